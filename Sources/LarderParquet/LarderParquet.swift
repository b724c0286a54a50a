// LarderParquet: see docs/ARCHITECTURE.md
