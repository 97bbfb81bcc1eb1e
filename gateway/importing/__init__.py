"""School data imports: CTF, contacts CSV, absences CSV, term dates. All or nothing, every problem reported.

Each ``import_*`` function reads and checks the whole file first and raises
:class:`gateway.errors.InputError` (one :class:`~gateway.errors.Problem` per thing wrong) before writing
anything; then it writes through the caller's session, and the caller commits. For pupils and contacts, an
unusable phone number or e-mail address is a warning (that one point is dropped and reported), unless
``strict=True``.
"""

from gateway.importing.absences import AbsenceImportSummary, MarkChange, import_absences
from gateway.importing.progress import ProgressReporter, SilentProgress
from gateway.importing.records import Counts, ImportSummary
from gateway.importing.school_data import import_contacts, import_ctf
from gateway.importing.terms import TermsImportSummary, import_terms

__all__ = [
    "AbsenceImportSummary",
    "Counts",
    "ImportSummary",
    "MarkChange",
    "ProgressReporter",
    "SilentProgress",
    "TermsImportSummary",
    "import_absences",
    "import_contacts",
    "import_ctf",
    "import_terms",
]
