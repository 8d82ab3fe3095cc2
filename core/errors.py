"""The one exception type users see: a message that says what was wrong and what to do."""


class GankitError(Exception):
    """A problem with the user's input, configuration or files. The CLI prints it as one
    line, without a traceback."""


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM after writing its checkpoint. It is a
    ``KeyboardInterrupt``, as Ctrl-C is in Python; the message says how to continue."""
