"""What `modelship build` hands back: the contract's JSON, the text table, the job summary and
the accelerator warnings as annotations (the CLI emits them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelship import console, markdown
from modelship.image import accelerators, builder, smoke
from modelship.outcome import Annotation, Outcome

if TYPE_CHECKING:
    from modelship.image.command import BuildJob


def outcome(job: BuildJob, built: builder.BuildResult, size: int,
             smoke_result: smoke.SmokeResult, pushes: list[builder.PushResult],
             cache_from: list[str]) -> Outcome:
    digest = pushes[0].digest if pushes else None
    image = f"{job.repo}@{digest}" if digest else job.refs[0]
    profile = job.profile
    result: dict[str, Any] = {
        "image": image,
        "digest": digest,
        "tags": job.refs,
        "accelerator": {**profile.as_dict(), "chart_values": profile.chart_values()},
        "smoke": smoke_result.as_dict(),
        "image_id": built.image_id,
        "size": size,
        "version": job.version,
        "labels": job.labels,
        "pushed": bool(pushes),
        "bytes_pushed": sum(p.bytes_pushed for p in pushes),
        "dockerfile": job.dockerfile.source,
        "build": {"steps": built.steps, "cached_steps": built.cached_steps,
                  "seconds": round(built.seconds, 2), "cache_from": cache_from},
    }
    smoke_text = ("skipped" if smoke_result.skipped
                  else ("passed" if smoke_result.passed else "failed")
                  + (" (GPU)" if smoke_result.gpu else "")
                  + (f"; {'; '.join(smoke_result.notes)}" if smoke_result.notes else ""))
    rows: list[tuple[str, object]] = [
        ("image", image), ("digest", digest or "(not pushed)"), ("tags", ", ".join(job.refs)),
        ("size", f"{size / 1e6:.1f} MB"), ("accelerator", _accel_text(profile)),
        ("Dockerfile", job.dockerfile.source), ("smoke test", smoke_text),
    ]
    rows += [(f"label {k}", v) for k, v in job.labels.items()]
    text = console.table_text(("", ""), rows).split("\n", 2)[-1]
    summary = "### modelship build\n\n" + markdown.table(("", ""), rows)
    outputs = {"image": image, "digest": digest or "", "tags": "\n".join(job.refs)}
    return Outcome(result, text=text, summary=summary, outputs=outputs,
                   annotations=warnings(profile))


def warnings(profile: accelerators.Profile) -> list[Annotation]:
    return [Annotation("warning", w, "modelship build: accelerator") for w in profile.warnings]


def _accel_text(profile: accelerators.Profile) -> str:
    if profile.kind != "nvidia":
        return f"cpu ({profile.source})"
    products = f", {', '.join(profile.gpu_products)}" if profile.gpu_products else ""
    return (f"nvidia CUDA {profile.cuda}, {profile.gpu_count} GPU{products} "
            f"({profile.source})")


