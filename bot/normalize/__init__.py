"""Normalisers for the entities the NLU model extracts (the NLU contract's entity table).

Pure, synchronous functions from text as workers write it to the values kept on a
case: money in yuan, headcounts, durations in months, dates and provinces.
"""

from bot.normalize.amounts import AmountMatch, find_amounts, parse_amount
from bot.normalize.dates import resolve_date
from bot.normalize.numerals import parse_number, parse_number_range
from bot.normalize.places import province_of
from bot.normalize.quantities import parse_duration_months, parse_headcount

__all__ = [
    "AmountMatch",
    "find_amounts",
    "parse_amount",
    "parse_duration_months",
    "parse_headcount",
    "parse_number",
    "parse_number_range",
    "province_of",
    "resolve_date",
]
