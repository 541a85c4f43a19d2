"""The feasibility study (可行性研究报告) of a run: ``natwin study``.

:func:`write_study` writes the study of a finished run (a :class:`~natwin.pipeline.RunResult`,
with a Monte Carlo and a tornado attached as ``result.uncertainty`` for the risk and
sensitivity chapters) as PDF and/or DOCX; :func:`study_result` runs a scenario with the
modest studies ``natwin study`` uses, :func:`attach_studies` adds them to a run already made. See docs/study.md.
"""

from __future__ import annotations

from natwin.study.run import FORMATS, attach_studies, study_result, write_study

__all__ = ["FORMATS", "attach_studies", "study_result", "write_study"]
