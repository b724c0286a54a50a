// LarderOffline: see docs/ARCHITECTURE.md
