"""The one exception type users see: a message that says what was wrong and what to do."""


class GankitError(Exception):
    """A problem with the user's input, configuration or files. The CLI prints it as one
    line, without a traceback."""
