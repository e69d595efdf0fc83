"""The eight OAI-PMH error codes, raised as exceptions and answered with HTTP 200."""

from __future__ import annotations

BAD_ARGUMENT = "badArgument"
BAD_RESUMPTION_TOKEN = "badResumptionToken"
BAD_VERB = "badVerb"
CANNOT_DISSEMINATE_FORMAT = "cannotDisseminateFormat"
ID_DOES_NOT_EXIST = "idDoesNotExist"
NO_RECORDS_MATCH = "noRecordsMatch"
NO_METADATA_FORMATS = "noMetadataFormats"
NO_SET_HIERARCHY = "noSetHierarchy"

# For these the spec wants the <request> element without attributes: the
# arguments were not understood, so echoing them would be echoing garbage.
UNPARSED = frozenset({BAD_VERB, BAD_ARGUMENT})


class OAIError(Exception):
    """One or more protocol errors, in the order they were found."""

    def __init__(self, code: str, message: str, *more: tuple[str, str]) -> None:
        super().__init__(message)
        self.errors: list[tuple[str, str]] = [(code, message), *more]

    @property
    def codes(self) -> set[str]:
        return {code for code, _ in self.errors}
