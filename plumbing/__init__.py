"""Everything around the lessons that is not about gradient descent.

- options.py: the command line: bounded numbers, the options scripts share (declared once),
  one-line refusals, the output folder checked before any work.
- output.py: a run's files, put into their folder all at once or not at all.
- run.py: a script as a command: stop signals, closed pipes and errors of the operating
  system end it in one line, never a traceback. A script imports its runner first, before
  its libraries, and ends with `if __name__ == "__main__": run_as_command(main)`.
- workers.py: worker processes for the data-parallel lesson.

Nothing here imports a lesson; a lesson imports this only in a script's main(), but for
the runner.
"""
