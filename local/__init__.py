"""The local stack: what `sam local` would serve, without Docker, driven by template.yaml."""
