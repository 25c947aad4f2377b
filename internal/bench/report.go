package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/tollgate-dev/tollgate/internal/money"
)

// Print writes r as a table, one row per rate and target, then the
// side-by-side summary the table has (Markdown), then the
// first error of every run that had one.
func (r *HarnessReport) Print(w io.Writer) error {
	fmt.Fprintf(w, "Side-by-side, open loop over loopback: %s measured per rate and target after %s warm-up; %d CPUs; Tollgate durability %s\n",
		r.Duration, r.Warmup, r.NumCPU, r.Synchronous)
	fmt.Fprintln(w, "Latency in ms from each request's intended start; CPU per call = a process's user+system CPU over the window / calls answered.")
	if sf := r.SyncFloor; sf != nil {
		fmt.Fprintf(w, "Sync floor of the data directory's file system (%d appends of 4 KiB, each fsynced): p50 %.3f / p99 %.3f ms, the least a FULL-durability answer waits for",
			sf.Syncs, sf.P50Ms, sf.P99Ms)
		if sf.CPUMicros > 0 {
			fmt.Fprintf(w, "; %.0f µs of CPU a sync, shared by the calls of one commit group", sf.CPUMicros)
		}
		fmt.Fprintln(w, ".")
	}
	for _, t := range r.Targets {
		fmt.Fprintf(w, "  %-16s %s: %s\n", t.Name, t.URL, t.Description)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "RATE\tTARGET\tACHIEVED\tP50\tP90\tP99\tMAX\tERRORS\tDROPPED\tLATE\tCPU/CALL µs\tUPSTREAM µs\tLOADGEN µs\tOTHER LOAD\tRSS / PEAK MiB\tCALLS/COMMIT\tCOMMIT ms\t")
	for _, hr := range r.Rates {
		for _, run := range hr.Runs {
			front, upstream, rss, group, commit := "-", "-", "-", "-", "-"
			if c := run.Commits; c != nil {
				group, commit = strconv.FormatFloat(c.RecordsPerGroup, 'f', 2, 64), strconv.FormatFloat(c.MeanMs, 'f', 3, 64)
			}
			if len(run.Processes) > 0 {
				p := run.Processes[0]
				front = fmtUs(p.CPUPerCallUs)
				if p.RSSMiB > 0 {
					rss = fmt.Sprintf("%.0f / %.0f", p.RSSMiB, p.PeakRSSMiB)
				}
			}
			if len(run.Processes) > 1 {
				upstream = fmtUs(run.Processes[1].CPUPerCallUs)
			}
			fmt.Fprintf(tw, "%d\t%s\t%.1f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t\n",
				hr.Rate, run.Target, run.AchievedRPS, run.P50Ms, run.P90Ms, run.P99Ms, run.MaxMs,
				run.Errors, run.Dropped, run.Late, front, upstream, fmtUs(run.LoadgenCPUPerCallUs), run.OtherLoadCores, rss, group, commit)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nCPU/CALL is the target's own process (the upstream itself for direct); UPSTREAM is the upstream behind it; OTHER LOAD is the rest of the machine in cores; RSS / PEAK is the target's own process's resident memory at the end of the window and its peak since it started; CALLS/COMMIT is the records each of a Tollgate's ledger commit groups held over the window (one journal write and sync a group) and COMMIT the mean time one took.")
	fmt.Fprintln(w)
	r.printSummary(w)
	for _, hr := range r.Rates {
		for _, run := range hr.Runs {
			if run.FirstError != "" {
				fmt.Fprintf(w, "first error at %d req/s, %s: %s\n", hr.Rate, run.Target, run.FirstError)
			}
		}
	}
	return nil
}

// printSummary writes the Markdown table of the issue: per rate, each
// target's p50 / p99 and its front process's CPU per call.
func (r *HarnessReport) printSummary(w io.Writer) {
	head := []string{"offered"}
	for _, t := range r.Targets {
		if t.Name == TargetDirect {
			head = append(head, "direct p50 / p99")
		} else {
			head = append(head, t.Name+" p50 / p99, CPU per call")
		}
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, hr := range r.Rates {
		cells := []string{money.GroupDigits(int64(hr.Rate)) + "/s"}
		for _, t := range r.Targets {
			cell := "—"
			for _, run := range hr.Runs {
				if run.Target != t.Name {
					continue
				}
				cell = fmt.Sprintf("%.2f / %.1f ms", run.P50Ms, run.P99Ms)
				if t.Name != TargetDirect && len(run.Processes) > 0 {
					cell += ", " + money.GroupDigits(int64(run.Processes[0].CPUPerCallUs+0.5)) + " µs"
				}
				if run.Errors > 0 || run.Dropped > 0 || run.AchievedRPS < 0.9*float64(hr.Rate) {
					cell += fmt.Sprintf(" (achieved %.0f/s, %d errors, %d dropped)", run.AchievedRPS, run.Errors, run.Dropped)
				}
			}
			cells = append(cells, cell)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}

func fmtUs(us float64) string { return strconv.FormatFloat(us, 'f', 0, 64) }
