// LarderRESP: see docs/ARCHITECTURE.md
