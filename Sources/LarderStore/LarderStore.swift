// LarderStore: see docs/ARCHITECTURE.md
