"""Everything around the lessons that is not about gradient descent.

- args.py: the command line: bounded numbers, the options scripts share (declared once),
  one-line refusals, the output folder checked before any work.
- output.py: a run's files, put into their folder all at once or not at all.
- run.py: a script as a command: stop signals, closed pipes and errors of the operating
  system end it in one line, never a traceback.
- workers.py: worker processes for the data-parallel lesson.

Nothing here imports a lesson; a lesson imports this only in a script's main().
"""
