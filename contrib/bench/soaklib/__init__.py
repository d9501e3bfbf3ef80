"""soaklib - the modules of contrib/bench/soak (the entry point, which
parses the arguments, runs the soak and prints the report):

  common    tunables, what became of a message id, Failure
  procfs    reading /proc: children, states, RSS, open files
  daemon    smtptrapd with a generated configuration, its control socket
  snapshot  the idle daemon measured; the maildir scanned
  client    the SMTP client and the load: one Client per process
"""
