"""The shipped templates: the seed's examples as definitions a user starts from (``templates/*.yaml``)."""

from __future__ import annotations

from importlib import resources

from ledgerlink.flows.defined.model import Definition, parse


def template_names() -> list[str]:
    folder = resources.files(__package__).joinpath("templates")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def template_text(name: str) -> str:
    if name not in template_names():
        raise KeyError(f"no template named {name!r}")
    return resources.files(__package__).joinpath("templates", f"{name}.yaml").read_text(encoding="utf-8")


def template(name: str) -> Definition:
    return parse(template_text(name))
