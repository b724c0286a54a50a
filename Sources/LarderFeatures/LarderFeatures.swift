// LarderFeatures: see docs/ARCHITECTURE.md
