"""Truncation and context assembly: outputs cut at the token limit, inputs at the model's context limit, and
context the model should have seen but did not (system prompt dropped, retrieved documents not passed on)."""

from __future__ import annotations

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, pct, span_quote, system_text
from agent.detectors.model_drift import model_family
from agent.detectors.stats import associate, novelty
from agent.detectors.text import norm
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span

NAME = "truncation"
LENGTH_REASONS = {"length", "max_tokens", "max_output_tokens", "model_length"}
# context windows of common model families (tokens); unknown models use the observed plateau
CONTEXT_LIMITS = {
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4.1": 1_000_000,
    "gpt-4": 8_192,
    "gpt-4-32k": 32_768,
    "gpt-3.5-turbo": 16_385,
    "llama3": 8_192,
    "llama-3-8b": 8_192,
    "mistral-7b-instruct": 32_768,
}


def _limit(span: Span) -> int | None:
    if not span.model:
        return None
    family = model_family(span.model)
    if family.startswith("claude"):
        return 200_000
    return CONTEXT_LIMITS.get(family)


def _scoped(ctx: DetectorContext, window: bool) -> list[Span]:
    spans = ctx.llm_spans if window else ctx.baseline_llm_spans
    return [s for s in spans if ctx.in_scope(s)]


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    win, base = _scoped(ctx, True), _scoped(ctx, False)
    if not win:
        return []
    return [*_cut_outputs(ctx, win, base), *_full_inputs(ctx, win, base), *_dropped_context(ctx, win, base)]


def _strength(
    ctx: DetectorContext, new: float, traces: set[str], base: float | None = None
) -> tuple[float, dict]:
    assoc = associate(ctx, ctx.answers, traces)
    effect = assoc.score if ctx.flags else T.shift_no_symptom_effect
    base = T.truncation_base if base is None else base
    strength = (base + T.truncation_novelty_gain * new) * (
        T.truncation_effect_floor + T.truncation_effect_gain * effect
    )
    return strength / T.truncation_scale, assoc.as_data()


def _cut_outputs(ctx: DetectorContext, win: list[Span], base: list[Span]) -> list[Finding]:
    def cut(s: Span) -> bool:
        return any(r.lower() in LENGTH_REASONS for r in s.finish_reasons) or any(
            (m.finish_reason or "").lower() in LENGTH_REASONS for m in s.output_messages
        )

    hits = [s for s in win if cut(s)]
    if not hits:
        return []
    k_base = sum(map(cut, base))
    new = novelty(len(hits), len(win), k_base, len(base))
    strength, assoc = _strength(ctx, new, {s.trace_id for s in hits})
    limits = sorted({s.sampling.max_tokens for s in hits if s.sampling.max_tokens})
    return [
        make(
            NAME,
            f"Outputs cut off at the token limit ({len(hits)} of {len(win)} LLM calls, finish reason length)",
            strength=strength,
            layer_hint="system",
            evidence=[span_ref(s.span_id) for s in hits[:3]],
            detail=(
                f"{pct(len(hits) / len(win))} of window calls stopped at the output limit vs "
                f"{pct(k_base / len(base)) if base else 'n/a'} in the baseline"
                + (f" (max_tokens {', '.join(map(str, limits))})." if limits else ".")
            ),
            onset=hits[0].start_time,
            quotes=[span_quote(hits[0], "output")],
            change=new >= T.novelty_change,
            kind="output_truncated",
            novelty=round(new, 3),
            max_tokens=limits,
            **assoc,
        )
    ]


def _full_inputs(ctx: DetectorContext, win: list[Span], base: list[Span]) -> list[Finding]:
    sized = [s for s in win if s.usage.input_tokens]
    if len(sized) < T.truncation_min_calls:
        return []
    known = [s for s in sized if _limit(s)]
    unknown = [s for s in sized if not _limit(s)]
    ceiling = max((s.usage.input_tokens or 0 for s in unknown), default=0)

    def full(s: Span) -> bool:
        tokens = s.usage.input_tokens or 0
        lim = _limit(s)
        return (
            tokens >= T.truncation_known_full * lim if lim else tokens >= T.truncation_plateau_full * ceiling
        )

    # calls of a model whose window is known are full near that window; the others against an observed plateau,
    # which counts only when several calls press against it, the baseline stayed below, and it is a size a context
    # window or an assembly budget can have
    base_max = max((s.usage.input_tokens or 0 for s in base), default=0)
    pressed = [s for s in unknown if full(s)]
    plateau = (
        len(pressed) >= max(T.truncation_min_calls, T.truncation_plateau_share * len(unknown))
        and base_max < T.truncation_plateau_baseline * ceiling
        and ceiling >= T.truncation_min_ceiling
    )
    hits = [s for s in known if full(s)] + (pressed if plateau else [])
    hits.sort(key=lambda s: s.start_time)
    if not hits:
        return []
    top = max(s.usage.input_tokens or 0 for s in hits)
    k_base = sum(1 for s in base if s.usage.input_tokens and full(s))
    new = novelty(len(hits), len(sized), k_base, len(base))
    strength, assoc = _strength(ctx, new, {s.trace_id for s in hits})
    return [
        make(
            NAME,
            f"Inputs at the context limit ({len(hits)} of {len(sized)} LLM calls at ~{top} input tokens)",
            strength=strength,
            layer_hint="system",
            evidence=[span_ref(s.span_id) for s in hits[:3]],
            detail=(
                f"{len(hits)} window calls used at least 95% of the context window"
                + (f" (a plateau at {ceiling} tokens; the baseline peaked at {base_max})" if plateau else "")
                + "; context assembly likely truncated what the model saw."
            ),
            onset=hits[0].start_time,
            change=new >= T.novelty_change,
            kind="input_at_limit",
            ceiling=top,
            baseline_max=base_max,
            novelty=round(new, 3),
            **assoc,
        )
    ]


def _dropped_context(ctx: DetectorContext, win: list[Span], base: list[Span]) -> list[Finding]:
    findings = []
    no_sys_win = [s for s in win if not system_text(s)]
    no_sys_base = [s for s in base if not system_text(s)]
    if base and no_sys_win and len(no_sys_base) <= T.truncation_system_baseline * len(base):
        new = novelty(len(no_sys_win), len(win), len(no_sys_base), len(base))
        if new >= T.truncation_dropped_novelty:
            strength, assoc = _strength(ctx, new, {s.trace_id for s in no_sys_win}, T.truncation_dropped_base)
            findings.append(
                make(
                    NAME,
                    f"System prompt missing from {len(no_sys_win)} of {len(win)} LLM calls (present in the baseline)",
                    strength=strength,
                    layer_hint="system",
                    evidence=[span_ref(no_sys_win[0].span_id)] + [span_ref(base[-1].span_id)],
                    detail="Calls in the window reached the model without the instructions the baseline calls had.",
                    onset=no_sys_win[0].start_time,
                    change=True,
                    kind="system_prompt_dropped",
                    novelty=round(new, 3),
                    **assoc,
                )
            )
    lost_win = [s for s in win if _docs_not_passed(ctx, s)]
    lost_base = [s for s in base if _docs_not_passed(ctx, s)]
    passed_base = [s for s in base if ctx.documents_for(s) and not _docs_not_passed(ctx, s)]
    if lost_win and len(passed_base) >= T.truncation_min_calls:
        new = novelty(len(lost_win), len(win), len(lost_base), len(base))
        if new >= T.truncation_dropped_novelty:
            strength, assoc = _strength(ctx, new, {s.trace_id for s in lost_win}, T.truncation_dropped_base)
            findings.append(
                make(
                    NAME,
                    f"Retrieved documents were not passed to the model in {len(lost_win)} of {len(win)} calls",
                    strength=strength,
                    layer_hint="system",
                    evidence=[span_ref(lost_win[0].span_id)],
                    detail="Documents were retrieved in these traces but none of their text is in the model's input, "
                    "unlike the baseline.",
                    onset=lost_win[0].start_time,
                    change=True,
                    kind="documents_not_in_prompt",
                    novelty=round(new, 3),
                    **assoc,
                )
            )
    return findings


def _docs_not_passed(ctx: DetectorContext, span: Span) -> bool:
    key = f"truncation.docs_not_passed:{span.span_id}"
    if key not in ctx.memo:
        ctx.memo[key] = _compute_docs_not_passed(ctx, span)
    return bool(ctx.memo[key])


def _compute_docs_not_passed(ctx: DetectorContext, span: Span) -> bool:
    docs = [d for sid, _, d in ctx.documents_for(span) if sid != span.span_id and d.content]
    if not docs or not span.input_messages:
        return False
    prompt = norm(" ".join([system_text(span), *(m.content or "" for m in span.input_messages)])).lower()
    return not any(norm(d.content or "")[:60].lower() in prompt for d in docs)
