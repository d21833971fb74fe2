"""Serving runtimes by name (`serve.protocol`): what each runtime's API looks like.

A preset says where a runtime answers health checks and predictions, how an eval row becomes
its request body and where the prediction is in its answer. `ServeSpec.from_config` fills
serve.health, serve.predict, gate.online.request and gate.online.response_field from it; keys
the user writes win. Paths may name `{model}` (serve.model).

    custom              GET /healthz            POST /predict                    prediction
    openai-chat         GET /v1/models          POST /v1/chat/completions  choices.0.message.content
    openai-completions  GET /v1/models          POST /v1/completions             choices.0.text
    v2                  GET /v2/health/ready    POST /v2/models/{model}/infer    outputs.0.data.0
    kserve-v1           GET /v1/models/{model}  POST /v1/models/{model}:predict  predictions.0
    torchserve          GET /ping               POST /predictions/{model}        (the answer)
    bentoml             GET /readyz             POST /{model} (API: predict)     (the answer)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from modelship.errors import UsageError

JSON = Any
BodyKind = Literal["row", "v2", "kserve-v1", "openai-chat", "openai-completions"]


@dataclass(frozen=True)
class Preset:
    name: str
    health: str
    predict: str
    response_field: str
    body: BodyKind  # how a row becomes the request body (without gate.online.request)
    needs_model: bool = False  # {model} in a path: serve.model is required
    default_model: str | None = None
    liveness: str | None = None  # a cheaper liveness path than health, where the runtime has one
    text_answer: bool = False  # a plain-text answer is the prediction (BentoML returning a str)
    answer_shape: str = ""  # what the answer looks like, for error messages
    env: tuple[tuple[str, str], ...] = ()  # the runtime's environment in the image (serve.env wins)

    def expects(self) -> str:
        """One phrase for errors: what this protocol sends and expects back."""
        return f"serve.protocol {self.name} expects {self.answer_shape}"


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("custom", "/healthz", "/predict", "prediction", "row",
           answer_shape='a JSON answer with the prediction at gate.online.response_field'),
    Preset("openai-chat", "/v1/models", "/v1/chat/completions", "choices.0.message.content",
           "openai-chat", answer_shape='{"choices": [{"message": {"content": TEXT}}]}'),
    Preset("openai-completions", "/v1/models", "/v1/completions", "choices.0.text",
           "openai-completions", answer_shape='{"choices": [{"text": TEXT}]}'),
    Preset("v2", "/v2/health/ready", "/v2/models/{model}/infer", "outputs.0.data.0", "v2",
           needs_model=True, liveness="/v2/health/live",
           answer_shape='{"outputs": [{"name", "datatype", "shape", "data": [PREDICTION]}]}'),
    Preset("kserve-v1", "/v1/models/{model}", "/v1/models/{model}:predict", "predictions.0",
           "kserve-v1", needs_model=True, answer_shape='{"predictions": [PREDICTION]}'),
    Preset("torchserve", "/ping", "/predictions/{model}", "", "row", needs_model=True,
           answer_shape="the prediction as the handler returns it"),
    # BentoML writes its home (~/bentoml) at start: on the chart's read-only root file system
    # only /tmp (an emptyDir) is writable
    Preset("bentoml", "/readyz", "/{model}", "", "row", default_model="predict",
           liveness="/livez", text_answer=True,
           answer_shape="the API's return value (JSON or text)",
           env=(("BENTOML_HOME", "/tmp/bentoml"),)),  # noqa: S108 (the pod's /tmp emptyDir)
)}
PROTOCOLS = tuple(PRESETS)
REFERENCE = "reference"
DEFAULT_MAX_TOKENS = 32  # small: eval answers are short, and CPUs are slow
DEFAULT_STARTUP_TIMEOUT = 20 * 60.0  # a large model's weights can take many minutes to load


def path_for(template: str, model: str | None) -> str:
    """A preset path with serve.model put in (percent-encoded: a name may hold `/` or `:`)."""
    if "{model}" not in template:
        return template
    import urllib.parse

    return template.replace("{model}", urllib.parse.quote(model or "", safe=""))


def inputs(row: Mapping[str, JSON]) -> dict[str, JSON]:
    """A row's input fields: everything but `reference`."""
    return {k: v for k, v in row.items() if k != REFERENCE}


# -- request bodies -------------------------------------------------------------------------
def body(preset: Preset, row: Mapping[str, JSON], where: str, *, model: str | None,
         max_tokens: int) -> JSON:
    """The request a preset sends for a row's fields (`where` names the row in errors)."""
    fields = inputs(row)
    if preset.body == "v2":
        return {"inputs": [v2_input(name, value, where) for name, value in fields.items()]}
    if preset.body == "kserve-v1":
        # one input field: its value is the instance (a feature list); several: the mapping
        return {"instances": [next(iter(fields.values())) if len(fields) == 1 else fields]}
    if preset.body in ("openai-chat", "openai-completions"):
        return _openai(preset, fields, where, model, max_tokens)
    return fields


def _openai(preset: Preset, fields: Mapping[str, JSON], where: str, model: str | None,
            max_tokens: int) -> JSON:
    out: dict[str, JSON] = {"model": model} if model else {}
    prompt, messages = fields.get("prompt"), fields.get("messages")
    if preset.body == "openai-chat":
        if isinstance(messages, list) and messages:
            out["messages"] = messages
        elif isinstance(prompt, str):
            out["messages"] = [{"role": "user", "content": prompt}]
        else:
            raise UsageError(f"{where}: serve.protocol openai-chat needs a 'prompt' (text) or "
                             f"'messages' (a list of {{role, content}}) field; the row has "
                             f"{', '.join(fields) or 'no input fields'}")
    elif isinstance(prompt, str):
        out["prompt"] = prompt
    else:
        raise UsageError(f"{where}: serve.protocol openai-completions needs a 'prompt' field "
                         f"(text); the row has {', '.join(fields) or 'no input fields'}",
                         hint="rows with 'messages' go to serve.protocol openai-chat")
    # greedy decoding: the same prompt gives the same text, so versions can be compared
    return {**out, "max_tokens": max_tokens, "temperature": 0}


_V2_TYPES = {str: "BYTES", bool: "BOOL", int: "INT64", float: "FP64"}


def _v2_datatype(values: list[JSON], name: str, where: str) -> str:
    kinds = {_V2_TYPES.get(type(v)) for v in values}
    if None in kinds or not kinds:
        raise UsageError(f"{where}: field '{name}': serve.protocol v2 sends each input field as "
                         "a tensor; expected a string, a number, a boolean or a flat list of "
                         f"them, got {values!r}"[:300])
    if kinds == {"INT64", "FP64"}:
        return "FP64"
    if len(kinds) > 1:
        raise UsageError(f"{where}: field '{name}': serve.protocol v2 needs one type per input "
                         f"field; the list mixes {', '.join(sorted(k or '' for k in kinds))}")
    return kinds.pop() or "BYTES"


def v2_input(name: str, value: JSON, where: str) -> dict[str, JSON]:
    """One Open Inference Protocol input tensor from a row field: a scalar is shape [1], a flat
    list of n values shape [1, n] (one row of a batch); BYTES for text, INT64/FP64 for numbers."""
    data = value if isinstance(value, list) else [value]
    datatype = _v2_datatype(data, name, where)
    if datatype == "FP64":
        data = [float(v) for v in data]
    shape = [1, len(data)] if isinstance(value, list) else [1]
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}
