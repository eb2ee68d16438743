package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// rssReport is the server's memory and CPU time during the timed run,
// from /proc/PID/status and /proc/PID/stat. VmRSS is sampled, so a spike
// shorter than the sample interval can be missed; VmHWM is the kernel's
// own peak since the process started, so its change over the run catches
// any new peak. CPU time is what the server spent, whatever the client
// cost: on a small machine shared by both, it tells server efficiency
// apart from throughput.
type rssReport struct {
	PID           int     `json:"pid"`
	Samples       int     `json:"samples"`
	StartRSSBytes int64   `json:"start_rss_bytes"`
	PeakRSSBytes  int64   `json:"peak_rss_bytes"`
	HWMStartBytes int64   `json:"hwm_start_bytes"`
	HWMEndBytes   int64   `json:"hwm_end_bytes"`
	CPUSeconds    float64 `json:"cpu_seconds"`
}

// rssWatch samples a process's memory in the background until stop.
type rssWatch struct {
	report   rssReport
	cpuStart time.Duration
	quit     chan struct{}
	done     chan struct{}
}

// startRSSWatch reads the process's memory once (so a wrong PID fails
// before the run) and then every interval.
func startRSSWatch(pid int, interval time.Duration) (*rssWatch, error) {
	rss, hwm, err := readProcMemory(pid)
	if err != nil {
		return nil, fmt.Errorf("-watch-pid: %w", err)
	}
	cpu, err := readProcCPU(pid)
	if err != nil {
		return nil, fmt.Errorf("-watch-pid: %w", err)
	}
	w := &rssWatch{
		report:   rssReport{PID: pid, Samples: 1, StartRSSBytes: rss, PeakRSSBytes: rss, HWMStartBytes: hwm, HWMEndBytes: hwm},
		cpuStart: cpu,
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
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
	rss, hwm, err := readProcMemory(w.report.PID)
	if err != nil {
		return // the server exited; the run will show errors
	}
	w.report.Samples++
	w.report.PeakRSSBytes = max(w.report.PeakRSSBytes, rss)
	w.report.HWMEndBytes = hwm
}

// stop ends sampling, takes a last sample and returns the report.
func (w *rssWatch) stop() *rssReport {
	close(w.quit)
	<-w.done
	w.sample()
	if cpu, err := readProcCPU(w.report.PID); err == nil {
		w.report.CPUSeconds = (cpu - w.cpuStart).Seconds()
	}
	r := w.report
	return &r
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

// readProcCPU returns the user + system CPU time of all threads of pid.
func readProcCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its closing parenthesis start at field 3 (state), so
	// utime and stime (fields 14 and 15) are at 11 and 12 from there.
	i := bytes.LastIndexByte(data, ')')
	fields := bytes.Fields(data[i+1:])
	if i < 0 || len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(string(fields[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}
