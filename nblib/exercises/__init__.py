"""Answer checks for the notebooks' exercises, one module per lesson (``lesson01`` ...).

Each ``check_*`` function takes the student's answer, prints whether it is right and why, and
returns True/False, so a notebook cell like ``ex.check_realised_rate(my_answer)`` gives feedback
without showing the solution.
"""
