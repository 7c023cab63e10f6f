"""CDISC SDTM domains into the native dataset schema (docs/sdtm.md).

:func:`import_sdtm` reads DM and LB (required) and DS, CM, AE, EX, PC (optional) from a
folder of SAS XPORT (``.xpt``) or CSV files, maps each domain through its declarative
map (:mod:`._domains`), checks the result with the native loader, and writes a native
dataset folder. Every problem names the SDTM file (domain), line and variable.
"""

from itptrial.data.sdtm._engine import Tally
from itptrial.data.sdtm._import import BLEEDING_NOTE, OUTPUT_TABLES, import_sdtm
from itptrial.data.sdtm._mapping import SdtmMapping, load_mapping
from itptrial.data.sdtm._summary import ImportSummary

__all__ = [
    "BLEEDING_NOTE",
    "OUTPUT_TABLES",
    "ImportSummary",
    "SdtmMapping",
    "Tally",
    "import_sdtm",
    "load_mapping",
]
