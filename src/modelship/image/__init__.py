"""`modelship build`: accelerator profiles, generated Dockerfiles, tags and labels, the docker
SDK build and push, and the smoke test (DESIGN.md, "Build contract")."""
