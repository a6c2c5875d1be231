"""Settings from ``MAILARK_*`` environment variables and the config file, read as pydantic-settings reads them.

pydantic-settings did this for us, but its import cost every CLI process 0.01 s of its start-up
(BENCHMARKS.md, "Session 13") for the few rules below:

- a variable is the field's name after the prefix, in any case: ``MAILARK_BATCH_MESSAGES``;
- a field of a nested model is reached with ``__``: ``MAILARK_S3__BUCKET``;
- a model, list, dict, set or tuple is given as JSON (``MAILARK_SOURCES__ALLOW_NETWORKS='["10.0.0.0/8"]'``);
  a JSON object and ``__`` variables for the same field are merged. A union that may hold such a
  value (``list[str] | str``) keeps the text when it is not JSON;
- keyword arguments win over variables, and variables over the config file (nested tables merge).

pydantic validates and converts every value as before; tests/mailark/test_settings.py checks that
pydantic-settings reads the same variables to the same settings.
"""

from __future__ import annotations

import json
import os
import tomllib
import types
from collections import deque
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

PREFIX = "mailark_"
DELIMITER = "__"


class SettingsError(ValueError):
    """A setting that cannot be used: the message names it, where it is set and what is wrong."""


def refusal(error: ValidationError) -> str:
    """pydantic's complaints as one line that names each variable (never the values: some are secrets)."""
    where = os.environ.get("MAILARK_CONFIG") or "mailark.toml"
    parts = []
    for problem in error.errors(include_input=False, include_url=False):
        path = [str(p) for p in problem["loc"] if not isinstance(p, int)]
        variable = PREFIX.upper() + DELIMITER.join(path).upper()
        parts.append(f"{'.'.join(path)} ({variable} or {where}): {problem['msg']}")
    return f"the settings cannot be used: {'; '.join(parts)}; correct or unset them"


def merged(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """The layers merged, later ones winning; nested mappings are merged key by key."""
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
                out[key] = merged(out[key], value)
            else:
                out[key] = value
    return out


def config_file_values(home: Path) -> dict[str, Any]:
    """The tables of ``$MAILARK_CONFIG``, else of ``<home>/mailark.toml``; none without the file."""
    path = Path(os.environ.get("MAILARK_CONFIG") or home / "mailark.toml")
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        return tomllib.load(f)


def environment_values(model: type[BaseModel], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The values that ``MAILARK_*`` variables give the fields of `model`."""
    env = {k.lower(): v for k, v in (os.environ if environ is None else environ).items() if k.lower().startswith(PREFIX)}
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = PREFIX + name.lower()
        complex_, lenient = _complexity(field.annotation)
        value: Any = env.get(key)
        if not complex_:
            if value is not None:
                out[name] = value
            continue
        if value is not None:
            value = _json(key, value, lenient)
            if isinstance(value, dict):
                value = merged(value, _nested(key + DELIMITER, field.annotation, env))
        else:
            value = _nested(key + DELIMITER, field.annotation, env) or None
        if value is not None:
            out[name] = value
    return out


def _nested(prefix: str, annotation: Any, env: Mapping[str, str]) -> dict[str, Any]:
    """``PREFIX_FIELD__SUB__...`` variables as a nested dict; a value for a complex sub-field is JSON."""
    result: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(prefix):
            continue
        *keys, last = name[len(prefix):].split(DELIMITER)
        target: Any = annotation
        node = result
        for key in keys:
            target = _sub_annotation(target, key)
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            sub = _sub_annotation(target, last)
            value: Any = raw
            if raw and sub is not None:
                complex_, lenient = _complexity(sub)
                if complex_:
                    value = _json(name, raw, lenient)
            node[last] = value
    return result


def _sub_annotation(annotation: Any, key: str) -> Any:
    """The annotation of the field `key` of a model annotation (None when there is none)."""
    model = _unwrap_optional(annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        for name, field in model.model_fields.items():
            if name.lower() == key:
                return field.annotation
    return None


def _complexity(annotation: Any) -> tuple[bool, bool]:
    """(given as JSON, text kept when it is not JSON): a union holding a complex type is lenient."""
    if _is_complex(annotation):
        return True, False
    if get_origin(annotation) in (Union, types.UnionType) and any(
            _is_complex(a) for a in get_args(annotation) if a is not type(None)):
        return True, True
    return False, False


def _is_complex(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_complex(get_args(annotation)[0])
    containers = (BaseModel, Mapping, Sequence, AbstractSet, tuple, set, frozenset, deque)
    return any(isinstance(c, type) and not issubclass(c, (str, bytes)) and issubclass(c, containers)
               for c in (annotation, origin))


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _json(name: str, raw: str, lenient: bool) -> Any:
    try:
        return json.loads(raw)
    except ValueError as e:
        if lenient:
            return raw
        raise SettingsError(f"the settings cannot be used: {name.upper()} must be JSON (e.g. '[\"a\", \"b\"]' "
                            f"or '{{\"key\": 1}}'): {e}; correct or unset it") from None
