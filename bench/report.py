#!/usr/bin/env python3
"""Turns the raw outputs of bench/run.sh into medians, goals, a table and JSON.

    bench/report.py RESULTS_DIR OUT_JSON [--repeats N] [--config TEXT]

Every figure is the median over the repeated runs (p99 where the run itself
measures one, the median of the runs' p99). A run that failed or printed no
figure is counted in "failed_runs" and left out of the median; a figure with
no successful run at all is null and its goal is not met.
"""
import argparse
import json
import re
import statistics
import sys
from pathlib import Path


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def run_records(out, name):
    """(meta fields, output text) of each run NAME_<r>, in round order."""
    for meta in sorted(out.glob(f"{name}_[0-9]*.meta")):
        m = dict(kv.split("=", 1) for kv in meta.read_text().split())
        yield meta, m, meta.with_suffix(".out").read_text(errors="replace")


def guest_runs(out, name):
    """(figures from the PASS line, wall seconds, round r) of each run NAME_<r>."""
    runs, failed = [], 0
    for meta, m, text in run_records(out, name):
        line = re.search(r"^PASS \S+ (.*)$", text, re.M)
        if m["rc"] != "0" or not line:
            failed += 1
            continue
        figures = dict(kv.split("=", 1) for kv in line.group(1).split() if "=" in kv)
        figures["wall_s"] = m["wall_s"]
        figures["round"] = meta.stem.rsplit("_", 1)[1]
        runs.append(figures)
    return runs, failed


def linux_runs(out, nodes):
    """Boot to /init and the kit's parallel job, by the guest's clock, of each
    linux_<nodes>nodes_<r> run that powered off; with its --stats counters."""
    runs, failed = [], 0
    for _, m, text in run_records(out, f"linux_{nodes}nodes"):
        init = re.search(r"^\[ *([0-9.]+)\] Run /init as init process", text, re.M)
        job = re.search(r"^amalgam-kit: jobs=(\d+) work=(\d+) seconds=([0-9.]+)", text, re.M)
        if m["rc"] != "0" or not init or not job:
            failed += 1
            continue
        faults = sum(int(x) for x in re.findall(r"(?:read|write)_faults=(\d+)", text))
        forwarded = sum(int(x) for x in re.findall(r"io_forwarded=(\d+)", text))
        ipis = sum(int(x) for x in re.findall(r"ipis_forwarded=(\d+)", text))
        runs.append({"boot_to_init_s": float(init.group(1)), "job_s": float(job.group(3)),
                     "jobs": int(job.group(1)), "work_blocks": int(job.group(2)), "wall_s": float(m["wall_s"]),
                     "dsm_faults": faults, "io_forwarded": forwarded, "ipis_forwarded": ipis})
    return runs, failed


def figure(runs, key, convert=float):
    return median([convert(r[key]) for r in runs if key in r])


def fault_results(out, transport):
    runs, failed = [], 0
    for f in sorted(out.glob(f"fault_{transport}_*.json")):
        try:
            runs.append(json.loads(f.read_text()))
        except (json.JSONDecodeError, ValueError):
            failed += 1
    res = {"transport": transport, "runs": len(runs), "failed_runs": failed}
    if runs:
        res["ucx_tls"] = runs[0]["ucx_tls"]
        res["config"] = {k: runs[0].get(k) for k in ("pages_per_round", "rounds", "busy_poll_us", "fault_spin_us")}
        res["raw_round_trip_4k"] = {
            "p50_us": median([r["raw_round_trip_4k"]["p50_us"] for r in runs]),
            "p99_us": median([r["raw_round_trip_4k"]["p99_us"] for r in runs]),
            # Each run's median: the wake-ups it pays depend on where the
            # scheduler puts the two threads, so runs can differ several-fold.
            "runs_p50_us": sorted(r["raw_round_trip_4k"]["p50_us"] for r in runs),
        }
        for k in ("local_floor", "read_miss", "write_miss", "upgrade"):
            res[k] = {"p50_us": median([r[k]["p50_us"] for r in runs]), "p99_us": median([r[k]["p99_us"] for r in runs])}
        steps = [r["read_miss_steps"] for r in runs if r.get("read_miss_steps", {}).get("windows")]
        if steps:
            # Where a read miss spends its time (fault_trace milestones of both nodes).
            res["read_miss_steps"] = {k: median([s[k] for s in steps]) for k in steps[0] if k.endswith("_us")}
        # Each run's own read miss against its own bar (its floor and round trip).
        res["read_miss_vs_bar_per_run_us"] = [
            [r["read_miss"]["p50_us"], round(r["local_floor"]["p50_us"] + 2 * r["raw_round_trip_4k"]["p50_us"], 2)]
            for r in runs]
        res["errors"] = sum(r["errors"] + r["wrong_values"] for r in runs)
    return res


def protocol_bench(path):
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return {
        "file": str(path),
        "per_event_ns": {
            b["name"]: round(1e9 / b["items_per_second"], 1) for b in data.get("benchmarks", []) if b.get("items_per_second")
        },
    }


def ratio(a, b):
    return a / b if a is not None and b else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("json_out")
    ap.add_argument("--repeats", type=int, default=0)
    ap.add_argument("--config", default="")
    a = ap.parse_args()
    out = Path(a.results)

    # shmspin: the fault thread polls 50 us for its answer (--fault-spin-us);
    # shmpoll: that, and the receive threads poll 200 us before they sleep
    # (--busy-poll-us), raw round trip measured the same way.
    kinds = ("shm", "shmspin", "shmpoll", "tcp")
    faults = {t: fault_results(out, t) for t in kinds}

    # Each guest benchmark: its successful runs' figures, and how many ran and failed.
    names = ("seqread_1node seqread_2nodes seqread_2nodes_prefetch numalocal_1node numalocal_2nodes "
             "numalocal_2nodes_prefetch counter_1node counter_2nodes ipi_1node ipi_2nodes qemu_numalocal "
             "amalgam_numalocal numalocal_1node_preallocate numalocal_2nodes_preallocate").split()
    figures, counts = {}, {}
    for name in names:
        figures[name], failed = guest_runs(out, name)
        counts[name] = {"runs": len(figures[name]), "failed_runs": failed}
    seq1, seq2, seq2p, numa1, numa2, numa2p, cnt1, cnt2, ipi1, ipi2, qemu, amal, numa1a, numa2a = (
        figures[n] for n in names)
    (seq1_n, seq2_n, seq2p_n, numa1_n, numa2_n, numa2p_n, cnt1_n, cnt2_n, ipi1_n, ipi2_n, qemu_n,
     amal_n, numa1a_n, numa2a_n) = (counts[n] for n in names)

    def per_round_ratios(two_nodes, one_node):
        # 2 nodes over 1 node, run r against run r (they ran back to back),
        # so that the machine's drift over a long benchmark cancels out.
        one_by_round = {r["round"]: int(r["mb_s"]) for r in one_node if "mb_s" in r}
        return [round(int(r["mb_s"]) / one_by_round[r["round"]], 3) for r in two_nodes
                if "mb_s" in r and one_by_round.get(r["round"])]

    def counter_ops(runs):
        # shared_ns_per_op is each CPU's time per operation: all CPUs together
        # do cpus / that many operations per second.
        return median([int(r["cpus"]) * 1e9 / max(1, int(r["shared_ns_per_op"])) for r in runs])

    def ipi_us(runs):
        return median([int(r["median_rtt_ns"].split("..")[0]) / 1000 for r in runs])

    results = {
        "machine": "2 cores shared with other work, nested KVM (ring 0 emulated), loopback UCX",
        "repeats": a.repeats,
        "config": a.config,
        "fault_latency": faults,
        "protocol_microbenchmark": protocol_bench(out / "dsm_protocol.json"),
        "page_throughput": {
            "what": "memtouch read-back pass, 2 vCPUs: each reads the pages the other vCPU wrote (one load per 4 KiB page)",
            "one_node_mb_s": figure(seq1, "read_mb_s"),
            "two_nodes_mb_s": figure(seq2, "read_mb_s"),
            "two_nodes_prefetch_mb_s": figure(seq2p, "read_mb_s"),
            "one_node": seq1_n,
            "two_nodes": seq2_n,
            "two_nodes_prefetch": seq2p_n,
        },
        "scaling": {
            "what": "numalocal, 2 vCPUs, each on RAM of its own NUMA node in ring 3; 1 node (--numa 2) vs 2 nodes; "
                    "MB/s from each vCPU's first touch of its slice to the end of its passes",
            "one_node_mb_s": figure(numa1, "mb_s"),
            "two_nodes_mb_s": figure(numa2, "mb_s"),
            "two_nodes_prefetch_mb_s": figure(numa2p, "mb_s"),
            "one_node": numa1_n,
            "two_nodes": numa2_n,
            "two_nodes_prefetch": numa2p_n,
            # The slowest vCPU's first touch (zeroing its slice), inside the figures above.
            "first_touch_us": {"one_node": figure(numa1, "first_touch_us"), "two_nodes": figure(numa2, "first_touch_us"),
                               "one_node_preallocated": figure(numa1a, "first_touch_us"),
                               "two_nodes_preallocated": figure(numa2a, "first_touch_us")},
            # Both sides run with --preallocate: guest RAM allocated before the guest runs.
            "one_node_preallocated_mb_s": figure(numa1a, "mb_s"),
            "two_nodes_preallocated_mb_s": figure(numa2a, "mb_s"),
            "one_node_preallocated": numa1a_n,
            "two_nodes_preallocated": numa2a_n,
            "ratio_per_round": per_round_ratios(numa2, numa1),
            "ratio_preallocated_per_round": per_round_ratios(numa2a, numa1a),
        },
        "shared_counter": {
            "what": "counter, 2 vCPUs, lock xadd on one shared counter; exact total checked by the guest",
            "one_node_ops_s": counter_ops(cnt1),
            "two_nodes_ops_s": counter_ops(cnt2),
            "two_nodes_completed": cnt2_n["runs"],
            "one_node": cnt1_n,
            "two_nodes": cnt2_n,
        },
        "ipi_round_trip": {
            "what": "ipi, 2 vCPUs: cpu 0 <-> cpu 1 IPI ping-pong, median per run",
            "same_node_us": ipi_us(ipi1),
            "across_nodes_us": ipi_us(ipi2),
            "same_node": ipi1_n,
            "across_nodes": ipi2_n,
        },
        "reference_vmm": {
            "what": "numalocal, 2 vCPUs, whole run (start to exit) on QEMU/KVM (PVH, isa-debug-exit) vs amalgam on 1 node",
            "qemu_wall_s": figure(qemu, "wall_s"),
            "amalgam_wall_s": figure(amal, "wall_s"),
            "qemu_guest_us": figure(qemu, "us"),
            "amalgam_guest_us": figure(amal, "us"),
            "qemu": qemu_n,
            "amalgam": amal_n,
        },
    }
    s = results["scaling"]
    s["ratio"] = ratio(s["two_nodes_mb_s"], s["one_node_mb_s"])
    s["ratio_prefetch"] = ratio(s["two_nodes_prefetch_mb_s"], s["one_node_mb_s"])
    s["ratio_preallocated"] = ratio(s["two_nodes_preallocated_mb_s"], s["one_node_preallocated_mb_s"])
    r = results["reference_vmm"]
    r["wall_ratio"] = ratio(r["amalgam_wall_s"], r["qemu_wall_s"])
    r["guest_ratio"] = ratio(r["amalgam_guest_us"], r["qemu_guest_us"])

    def read_goal_of(x):
        if "read_miss" not in x:
            return {"measured_us": None, "limit_us": None, "met": False}
        limit = x["local_floor"]["p50_us"] + 2 * x["raw_round_trip_4k"]["p50_us"]
        per_run = x["read_miss_vs_bar_per_run_us"]
        return {"measured_us": x["read_miss"]["p50_us"], "limit_us": round(limit, 2),
                "met": x["read_miss"]["p50_us"] <= limit,
                # The round trip with sleeping threads moves between runs with
                # where the scheduler puts them, and the bar with it.
                "runs_within_their_own_bar": f"{sum(m <= b for m, b in per_run)} of {len(per_run)}"}

    # Met if any shared-memory configuration meets it; each is reported.
    configs = {
        "defaults": ("shm", "shm, threads sleep when idle (the defaults)"),
        "fault_spin": ("shmspin", "shm, fault threads poll 50 us for their answer (--fault-spin 50)"),
        "fault_spin_and_busy_poll": ("shmpoll", "shm, --fault-spin 50 and receive threads that poll 200 us "
                                                "before they sleep (--busy-poll 200)"),
    }
    read_goal = {}
    for key, (kind, text) in configs.items():
        read_goal[key] = read_goal_of(faults[kind])
        read_goal[key]["configuration"] = text
    read_goal["met_by"] = [g["configuration"] for g in read_goal.values() if g["met"]]
    read_goal["met"] = bool(read_goal["met_by"])
    # Met if either configuration meets it; each is reported, with how many
    # of its rounds were at or above the limit on their own.
    def scaling_goal_of(measured, per_round, text):
        return {"measured": measured, "configuration": text, "met": measured is not None and measured >= 0.9,
                "rounds_at_or_above_limit": f"{sum(x >= 0.9 for x in per_round)} of {len(per_round)}"}
    scaling_goal = {
        "defaults": scaling_goal_of(s["ratio"], s["ratio_per_round"],
                                    "RAM allocated on first touch (default options, first-touch claims on)"),
        "preallocated": scaling_goal_of(s["ratio_preallocated"], s["ratio_preallocated_per_round"],
                                        "--preallocate on both sides: guest RAM allocated before the guest runs"),
        "measured_prefetch": s["ratio_prefetch"],
        "limit": 0.9,
    }
    scaling_goal["met_by"] = [scaling_goal[k]["configuration"] for k in ("defaults", "preallocated")
                              if scaling_goal[k]["met"]]
    scaling_goal["met"] = bool(scaling_goal["met_by"])
    results["goals"] = {
        "read_miss_shm_within_floor_plus_2rtt": read_goal,
        "numa_scaling_2_nodes_at_least_0_9": scaling_goal,
        "one_node_within_10pct_of_qemu": {
            "measured": r["guest_ratio"], "limit": 1.1,
            "basis": "the guest's own time for its workload (TSC); whole-run wall times are in reference_vmm, but "
                     "QEMU's include SeaBIOS, which runs in emulated ring 0 on this machine",
            "met": r["guest_ratio"] is not None and r["guest_ratio"] <= 1.1},
        "shared_counter_no_livelock": {"completed_runs": cnt2_n["runs"], "failed_runs": cnt2_n["failed_runs"],
                                       "met": cnt2_n["runs"] > 0 and cnt2_n["failed_runs"] == 0},
    }
    linux = {}
    for n in (1, 2, 3):
        runs, failed = linux_runs(out, n)
        linux[f"{n}_nodes"] = {"runs": len(runs), "failed_runs": failed,
                               **{k: figure(runs, k) for k in ("boot_to_init_s", "job_s", "wall_s", "dsm_faults",
                                                                 "io_forwarded", "ipis_forwarded")}}
    results["linux"] = {"basis": "Debian's kernel, guest kit, 4 vCPUs, 512 MiB; times by the guest's kvmclock "
                                 "(printk timestamp of 'Run /init', the kit's job time)", **linux}
    Path(a.json_out).write_text(json.dumps(results, indent=2) + "\n")

    def f(v, fmt="{:.1f}"):
        return "n/a" if v is None else fmt.format(v)

    rows = [("benchmark", "configuration", "figure")]
    for t in kinds:
        x = faults[t]
        if "read_miss" not in x:
            rows.append((f"fault latency {t}", "", "no successful run"))
            continue
        cfg = f"2 engines over UCX {x['ucx_tls']}, {x['config']['pages_per_round']} pages x {x['config']['rounds']} rounds"
        if x["config"]["busy_poll_us"]:
            cfg += f", receivers poll {x['config']['busy_poll_us']} us before sleeping"
        if x["config"]["fault_spin_us"]:
            cfg += f", fault thread polls {x['config']['fault_spin_us']} us for its answer"
        for k, label in (("raw_round_trip_4k", "raw 4 KiB round trip"), ("local_floor", "local floor (no network)"),
                         ("read_miss", "remote read miss"), ("write_miss", "remote write miss"),
                         ("upgrade", "write upgrade S->E")):
            rows.append((f"{label}, {t}", cfg, f"p50 {f(x[k]['p50_us'])} us, p99 {f(x[k]['p99_us'])} us"))
        if "read_miss_steps" in x:
            rows.append((f"read miss, step by step, {t}", "medians of each step",
                         ", ".join(f"{k[:-3].replace('_', ' ')} {f(v)}" for k, v in x["read_miss_steps"].items()) + " us"))
    pt = results["page_throughput"]
    def three_ways(x):  # 1 node; 2 nodes; 2 nodes with prefetch
        return "; ".join(f(x[k], "{:.0f}") for k in ("one_node_mb_s", "two_nodes_mb_s", "two_nodes_prefetch_mb_s"))

    rows.append(("page throughput (remote seq. read)", "memtouch read-back, 2 vCPUs; 1 node; 2 nodes; 2 nodes --prefetch",
                 f"{three_ways(pt)} MB/s"))
    rows.append(("NUMA-local scaling", "numalocal, 2 vCPUs; 1 node --numa 2; 2 nodes; 2 nodes --prefetch",
                 f"{three_ways(s)} MB/s; ratio {f(s['ratio'], '{:.2f}')}, with prefetch {f(s['ratio_prefetch'], '{:.2f}')}"))
    ft = s["first_touch_us"]
    rows.append(("NUMA-local scaling, --preallocate", "numalocal, 2 vCPUs; 1 node --numa 2; 2 nodes; both --preallocate",
                 f"{f(s['one_node_preallocated_mb_s'], '{:.0f}')}; {f(s['two_nodes_preallocated_mb_s'], '{:.0f}')} MB/s; "
                 f"ratio {f(s['ratio_preallocated'], '{:.2f}')}"))
    rows.append(("first touch of a vCPU's 2 MiB", "numalocal, slowest vCPU; 1 node; 2 nodes; "
                                                 "1 node --preallocate; 2 nodes --preallocate",
                 "; ".join(f(ft[k], "{:.0f}") for k in ("one_node", "two_nodes", "one_node_preallocated",
                                                         "two_nodes_preallocated")) + " us"))
    sc = results["shared_counter"]
    rows.append(("shared counter", "counter, 2 vCPUs, 1 vs 2 nodes",
                 f"{f(sc['one_node_ops_s'], '{:.3g}')} vs {f(sc['two_nodes_ops_s'], '{:.3g}')} ops/s, "
                 f"{sc['two_nodes']['runs']} of {sc['two_nodes']['runs'] + sc['two_nodes']['failed_runs']} 2-node runs completed"))
    ip = results["ipi_round_trip"]
    rows.append(("IPI round trip", "ipi, 2 vCPUs, same node vs across nodes",
                 f"{f(ip['same_node_us'])} vs {f(ip['across_nodes_us'])} us"))
    rows.append(("reference VMM", "numalocal, 2 vCPUs, QEMU/KVM vs amalgam 1 node",
                 f"guest workload {f(r['qemu_guest_us'], '{:.0f}')} vs {f(r['amalgam_guest_us'], '{:.0f}')} us, "
                 f"ratio {f(r['guest_ratio'], '{:.2f}')}; whole run {f(r['qemu_wall_s'], '{:.2f}')} vs "
                 f"{f(r['amalgam_wall_s'], '{:.2f}')} s (QEMU's includes SeaBIOS)"))
    li = results["linux"]
    rows.append(("Linux boot to /init", "Debian kernel, 4 vCPUs; 1; 2; 3 nodes (guest clock)",
                 "; ".join(f(li[f"{n}_nodes"]["boot_to_init_s"]) for n in (1, 2, 3)) + " s"))
    rows.append(("Linux parallel job", "guest kit: one md5sum pinned to each CPU at once; 1; 2; 3 nodes",
                 "; ".join(f(li[f"{n}_nodes"]["job_s"], "{:.2f}") for n in (1, 2, 3)) + " s"))
    rows.append(("Linux boot: where the time goes", "DSM faults; forwarded I/O; forwarded IPIs; 1; 2; 3 nodes",
                 "; ".join(f"{f(li[f'{n}_nodes']['dsm_faults'], '{:.0f}')}/{f(li[f'{n}_nodes']['io_forwarded'], '{:.0f}')}"
                           f"/{f(li[f'{n}_nodes']['ipis_forwarded'], '{:.0f}')}" for n in (1, 2, 3))))
    pb = results["protocol_microbenchmark"]
    if pb:
        best = min(pb["per_event_ns"].values()) if pb["per_event_ns"] else None
        worst = max(pb["per_event_ns"].values()) if pb["per_event_ns"] else None
        rows.append(("protocol per-event cost", "bench_dsm_protocol (Google Benchmark)",
                     f"{f(best)} to {f(worst)} ns per event (dsm_protocol.json)"))
    print(f"Medians over {a.repeats} runs each.\n")
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows[1:]:
        print("| " + " | ".join(row) + " |")
    print("\n| goal | measured | met |\n|---|---|---|")
    g = results["goals"]
    parts = [(kind, read_goal[key]) for key, (kind, _) in configs.items()]
    print("| remote read miss (shm) <= local floor + 2 x raw round trip | " +
          "; ".join(f"{kind}: {f(g['measured_us'])} us against {f(g['limit_us'])} us "
                    f"({g.get('runs_within_their_own_bar', 'no')} runs under their own bar)" for kind, g in parts) + " | " +
          "; ".join(f"{kind}: {'yes' if g['met'] else 'no'}" for kind, g in parts) + " |")
    sg = g["numa_scaling_2_nodes_at_least_0_9"]
    print(f"| NUMA-local scaling, 2 nodes / 1 node >= 0.9 | defaults: {f(s['ratio'], '{:.2f}')} "
          f"({sg['defaults']['rounds_at_or_above_limit']} rounds at or above), with --prefetch "
          f"{f(s['ratio_prefetch'], '{:.2f}')}; --preallocate: {f(s['ratio_preallocated'], '{:.2f}')} "
          f"({sg['preallocated']['rounds_at_or_above_limit']} rounds at or above) | "
          f"defaults: {'yes' if sg['defaults']['met'] else 'no'}; "
          f"--preallocate: {'yes' if sg['preallocated']['met'] else 'no'} |")
    print(f"| amalgam 1 node / QEMU, guest workload time <= 1.1 | {f(r['guest_ratio'], '{:.2f}')} | "
          f"{'yes' if g['one_node_within_10pct_of_qemu']['met'] else 'no'} |")
    print(f"| shared counter over 2 nodes completes (no livelock) | {cnt2_n['runs']} of "
          f"{cnt2_n['runs'] + cnt2_n['failed_runs']} runs | {'yes' if g['shared_counter_no_livelock']['met'] else 'no'} |")
    print(f"\nJSON: {a.json_out}", file=sys.stderr)


if __name__ == "__main__":
    main()
