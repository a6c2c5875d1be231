"""Mail files for import: EML, mbox, Outlook PST/OST and .msg, files or whole directory trees.

``iter_source(path, folder=None)`` yields a ``SourceMessage`` (bytes to archive plus provenance)
or a ``SourceProblem`` (bytes to quarantine plus a reason) for every item it finds, detecting each
file's format by content (``detect_format``). It streams: a large mbox or PST is never read
whole into memory.
"""

from .detect import detect_format
from .model import SOURCE_KINDS, SourceMessage, SourceProblem
from .walk import iter_source

__all__ = ["SOURCE_KINDS", "SourceMessage", "SourceProblem", "detect_format", "iter_source"]
