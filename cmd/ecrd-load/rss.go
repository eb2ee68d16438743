package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
)

// rssReport is a watched process's memory and CPU time during the timed
// run, from /proc/PID/status and /proc/PID/stat. VmRSS is sampled, so a
// spike shorter than the sample interval can be missed; VmHWM is the
// kernel's own peak since the process started, so its change over the run
// catches any new peak. CPU time is what the server spent, whatever the
// client cost: on a small machine shared by both, it tells server
// efficiency apart from throughput. It counts the process's descendants
// too (PostgreSQL serves each connection from a child process); memory
// is the process's own, since children share pages with it.
type rssReport struct {
	Name          string  `json:"name,omitempty"`
	PID           int     `json:"pid"`
	Samples       int     `json:"samples"`
	StartRSSBytes int64   `json:"start_rss_bytes"`
	PeakRSSBytes  int64   `json:"peak_rss_bytes"`
	HWMStartBytes int64   `json:"hwm_start_bytes"`
	HWMEndBytes   int64   `json:"hwm_end_bytes"`
	CPUSeconds    float64 `json:"cpu_seconds"`
}

// rssWatch samples processes' memory in the background until stop.
type rssWatch struct {
	reports  []rssReport
	cpuStart []time.Duration
	quit     chan struct{}
	done     chan struct{}
}

// startRSSWatch reads each process's memory once (so a wrong PID fails
// before the run) and then every interval.
func startRSSWatch(targets []watchTarget, interval time.Duration) (*rssWatch, error) {
	w := &rssWatch{quit: make(chan struct{}), done: make(chan struct{})}
	for _, t := range targets {
		rss, hwm, err := readProcMemory(t.pid)
		if err != nil {
			return nil, fmt.Errorf("-watch-pid: %w", err)
		}
		cpu, err := readTreeCPU(t.pid)
		if err != nil {
			return nil, fmt.Errorf("-watch-pid: %w", err)
		}
		w.reports = append(w.reports, rssReport{Name: t.name, PID: t.pid, Samples: 1,
			StartRSSBytes: rss, PeakRSSBytes: rss, HWMStartBytes: hwm, HWMEndBytes: hwm})
		w.cpuStart = append(w.cpuStart, cpu)
	}
	go w.loop(interval)
	return w, nil
}

func (w *rssWatch) loop(interval time.Duration) {
	defer close(w.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-tick.C:
			w.sample()
		}
	}
}

func (w *rssWatch) sample() {
	for i := range w.reports {
		r := &w.reports[i]
		rss, hwm, err := readProcMemory(r.PID)
		if err != nil {
			continue // the server exited; the run will show errors
		}
		r.Samples++
		r.PeakRSSBytes = max(r.PeakRSSBytes, rss)
		r.HWMEndBytes = hwm
	}
}

// stop ends sampling, takes a last sample and returns the reports, in the
// order the processes were given.
func (w *rssWatch) stop() []rssReport {
	close(w.quit)
	<-w.done
	w.sample()
	for i := range w.reports {
		if cpu, err := readTreeCPU(w.reports[i].PID); err == nil {
			w.reports[i].CPUSeconds = (cpu - w.cpuStart[i]).Seconds()
		}
	}
	return slices.Clone(w.reports)
}

// readProcMemory returns VmRSS and VmHWM of pid in bytes.
func readProcMemory(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	rss, errRSS := procField(data, "VmRSS:")
	hwm, errHWM := procField(data, "VmHWM:")
	if errRSS != nil || errHWM != nil {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS/VmHWM (a kernel thread or a zombie?)", pid)
	}
	return rss, hwm, nil
}

// procField parses a line like "VmRSS:\t   12345 kB" (kB meaning KiB).
func procField(status []byte, name string) (int64, error) {
	i := bytes.Index(status, []byte(name))
	if i < 0 {
		return 0, fmt.Errorf("no %s", name)
	}
	line := status[i+len(name):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	fields := bytes.Fields(line)
	if len(fields) != 2 || string(fields[1]) != "kB" {
		return 0, fmt.Errorf("odd %s line %q", name, line)
	}
	kib, err := strconv.ParseInt(string(fields[0]), 10, 64)
	return kib << 10, err
}

// userHZ is the unit of the times in /proc/PID/stat: USER_HZ, which the
// kernel fixes at 100 for user space on every architecture Go supports.
const userHZ = 100

// procTimes is what /proc/PID/stat says of a process's CPU time.
type procTimes struct {
	ppid   int
	own    time.Duration // utime + stime, all threads
	reaped time.Duration // cutime + cstime: children it has waited for
}

// readProcStat parses /proc/PID/stat.
func readProcStat(pid int) (procTimes, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procTimes{}, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its closing parenthesis start at field 3 (state), so
	// ppid (field 4) is at 1 from there and utime, stime, cutime, cstime
	// (fields 14 to 17) at 11 to 14.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procTimes{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := bytes.Fields(data[i+1:])
	if len(fields) < 15 {
		return procTimes{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	var n [5]int64
	for k, f := range []int{1, 11, 12, 13, 14} {
		if n[k], err = strconv.ParseInt(string(fields[f]), 10, 64); err != nil {
			return procTimes{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
		}
	}
	tick := time.Second / userHZ
	return procTimes{ppid: int(n[0]), own: time.Duration(n[1]+n[2]) * tick, reaped: time.Duration(n[3]+n[4]) * tick}, nil
}

// readProcCPU returns the user + system CPU time of all threads of pid.
func readProcCPU(pid int) (time.Duration, error) {
	t, err := readProcStat(pid)
	return t.own, err
}

// readTreeCPU returns the CPU time of pid and of its descendants, living
// or reaped. A child that exits moves its time into its parent's reaped
// time, so the sum over the living tree plus what each reaped counts every
// tick once, whenever it is read.
func readTreeCPU(pid int) (time.Duration, error) {
	root, err := readProcStat(pid)
	if err != nil {
		return 0, err
	}
	total := root.own + root.reaped
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return total, nil
	}
	type proc struct {
		pid int
		procTimes
	}
	children := map[int][]proc{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		t, err := readProcStat(p)
		if err != nil {
			continue // gone since the listing
		}
		children[t.ppid] = append(children[t.ppid], proc{p, t})
	}
	queue := []int{pid}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		for _, c := range children[parent] {
			total += c.own + c.reaped
			queue = append(queue, c.pid)
		}
	}
	return total, nil
}
