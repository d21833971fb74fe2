"""One module per release sub-command (HELP, add_arguments, run), as modelship.cli expects;
the work is in modelship.release.commands."""
