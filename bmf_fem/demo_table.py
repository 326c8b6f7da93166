"""The short table of numbers a demo prints after its run."""

from __future__ import annotations

from bmf_fem.detect import detector_results


def _number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def demo_table(summary: dict) -> str:
    """Build-up, opt-out and restart numbers, then detection per detector."""
    results = summary.get("results", {})
    final = summary.get("final_metrics", {})
    lines = ["quantity                         value"]
    for key, label in (
        ("peak_intensity", "peak intensity (phi_max)"),
        ("pulses_first", "pulses to the first peak"),
        ("wane_percent", "u_max wane after opt-out (%)"),
        ("scope_retained_percent", "scope retained (%)"),
        ("pulses_restart", "pulses to the peak on restart"),
        ("restart_ratio", "restart / first pulses"),
    ):
        if key in results:
            lines.append(f"{label:<32} {_number(results[key])}")
    for index, delay in enumerate(results.get("onset_delays", [])):
        lines.append(f"{f'onset delay of induction {index + 1}':<32} {_number(delay)}")
    lines.append(f"{'expressed fraction (end)':<32} {_number(final.get('expressed_fraction'))}")
    detection = summary.get("detection", {})
    detectors = list(detector_results(detection))
    if detectors:
        lines.append("")
        lines.append("detector     expressed hits late misses false  lead q1/median/q3  control FA")
        control = detection.get("control", {})
        for name in detectors:
            row = detection[name]
            lead = "/".join(_number(row[k]) for k in ("lead_q1", "lead_median", "lead_q3"))
            rate = control.get(name, {}).get("false_alarm_rate")
            lines.append(
                f"{name:<12} {row['expressed']:>9} {row['hits']:>4} {row['late']:>4} "
                f"{row['misses']:>6} {row['false_alarms']:>5}  {lead:>17}  "
                f"{_number(rate):>10}"
            )
        if "calibration" in detection:
            calibration = dict(detection["calibration"])
            runs, quantile = calibration.pop("runs"), calibration.pop("quantile")
            shown = ", ".join(f"{key} {value:.3g}" for key, value in calibration.items())
            lines.append(f"({shown} from {runs} null runs, quantile {quantile})")
        if detection.get("roc"):
            lines.append("")
            lines.append("indicator           AUC early  AUC late  forced  null")
            for name, row in detection["roc"].items():
                lines.append(
                    f"{name:<18} {_number(row['auc_early']):>10} {_number(row['auc_late']):>9}"
                    f" {row['forced']:>7} {row['null']:>5}"
                )
    return "\n".join(lines)
