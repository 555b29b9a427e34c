"""A model to score with before there is data to train one (a new connection, a small pool).

m (how often the same customer agrees) is rounded from the model trained on FEBRL 2, a heavily corrupted set, so it
forgives typos more than clean data needs; fields FEBRL lacks (e-mail, phone, VAT, web domain) take the trained
values of the synthetic UK set in ``benchmarks/record_linkage.py`` or, for VAT and web domain, a plain guess.
u (how often different customers agree) is from the synthetic UK set; ``CustomerIndex`` re-estimates it from its
own pool as soon as the pool is big enough, since u depends on the population and is cheap to estimate.
"""

from __future__ import annotations

from ledgerlink.intelligence.matching.fellegi_sunter import FellegiSunterModel

DEFAULT_M: list[list[float]] = [
    [0.10, 0.08, 0.11, 0.27, 0.44],  # name
    [0.05, 0.05, 0.90],  # email
    [0.05, 0.05, 0.90],  # phone
    [0.04, 0.01, 0.20, 0.75],  # postcode
    [0.17, 0.83],  # street_number
    [0.05, 0.01, 0.36, 0.58],  # street
    [0.07, 0.41, 0.52],  # locality
    [0.07, 0.26, 0.67],  # city
    [0.05, 0.95],  # region
    [0.05, 0.95],  # vat
    [0.05, 0.95],  # web_domain
]
DEFAULT_U: list[list[float]] = [
    [0.98, 0.015, 0.001, 5e-05, 3e-05],  # name
    [0.9999, 2e-05, 7e-05],  # email
    [0.9999, 3e-05, 3e-05],  # phone
    [0.99, 0.001, 2e-05, 5e-05],  # postcode
    [0.99, 0.01],  # street_number
    [0.98, 0.02, 0.0006, 0.0001],  # street
    [0.99, 0.005, 0.003],  # locality
    [0.99, 0.005, 0.003],  # city
    [0.8, 0.2],  # region
    [0.9999, 0.0001],  # vat
    [0.9999, 0.0001],  # web_domain
]


def default_model(prior: float = 1e-4) -> FellegiSunterModel:
    return FellegiSunterModel([list(row) for row in DEFAULT_M], [list(row) for row in DEFAULT_U], prior)
