from modelship.cli import entrypoint

entrypoint()
