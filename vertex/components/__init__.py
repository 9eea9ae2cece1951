"""kfp v2 components, one per file; imports live inside the bodies (the body is what
kfp ships to the container), and each takes and returns typed artifacts."""
