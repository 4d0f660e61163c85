from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

BallotType = Literal["approval", "cumulative", "ordinal"]
Ballot = object


@dataclass(frozen=True)
class Project:
    id: str
    cost: int | Fraction
