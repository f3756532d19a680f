"""Errors that reach the user as one line, never as a traceback.

The CLI catches `UserError` (and subclasses), prints `str(error)` and exits with
`error.exit_status`.
"""


class UserError(Exception):
    """A problem in what the user gave us (profile, option, image): one line, exit 2."""

    exit_status = 2


class ProfileError(UserError):
    """A machine profile is invalid; the message names the file and the key."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem)


class MediaError(UserError):
    """A disk image is missing, unreadable, or has changed since it was recorded."""


class GuestError(Exception):
    """The guest did something the machine cannot continue from (triple fault with
    `on_triple_fault: stop`, an unsupported instruction).  Carries a readable report."""

    exit_status = 3

    def __init__(self, summary: str, report: str = "") -> None:
        self.summary = summary
        self.report = report
        super().__init__(summary)
