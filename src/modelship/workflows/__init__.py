"""Workflow templates and `modelship init`: render the repository's GitHub workflows."""
