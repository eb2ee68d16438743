package main

import (
	"testing"

	"github.com/ecrd/ecrd/internal/config"
)

func TestMemoryLimit(t *testing.T) {
	cases := []struct {
		setting int64
		env     string
		want    int64
		set     bool
	}{
		{setting: config.Default().MemoryLimit, want: config.Default().MemoryLimit, set: true},
		{setting: 200 << 20, want: 200 << 20, set: true},
		{setting: 0},                      // memory-limit=0: none
		{setting: 200 << 20, env: "1GiB"}, // the runtime already applied GOMEMLIMIT
		{setting: 200 << 20, env: "off"},
	}
	for _, c := range cases {
		getenv := func(k string) string {
			if k == "GOMEMLIMIT" {
				return c.env
			}
			return ""
		}
		got, set := memoryLimit(config.Config{MemoryLimit: c.setting}, getenv)
		if got != c.want || set != c.set {
			t.Errorf("memory-limit %d, GOMEMLIMIT %q: %d, %v; want %d, %v", c.setting, c.env, got, set, c.want, c.set)
		}
	}
	if config.Default().MemoryLimit <= 0 {
		t.Error("no memory limit by default")
	}
}

func TestGCPercent(t *testing.T) {
	limit := config.Default().MemoryLimit
	cases := []struct {
		setting   int
		limit     int64
		gogc, gml string
		want      int
		set       bool
	}{
		{limit: limit, want: defaultGCPercent, set: true},          // the defaults
		{setting: 150, limit: limit, want: 150, set: true},         // given
		{setting: 150, want: 150, set: true},                       // given, without a limit
		{limit: 0},                                                 // no limit: the runtime's own
		{limit: 0, gml: "1GiB", want: defaultGCPercent, set: true}, // GOMEMLIMIT is a limit
		{limit: limit, gml: "off"},                                 // GOMEMLIMIT=off wins over memory-limit
		{setting: 150, limit: limit, gogc: "50"},                   // the runtime already applied GOGC
		{limit: limit, gogc: "off"},
	}
	for _, c := range cases {
		getenv := func(k string) string {
			switch k {
			case "GOGC":
				return c.gogc
			case "GOMEMLIMIT":
				return c.gml
			}
			return ""
		}
		got, set := gcPercent(config.Config{GCPercent: c.setting, MemoryLimit: c.limit}, getenv)
		if got != c.want || set != c.set {
			t.Errorf("gc-percent %d, memory-limit %d, GOGC %q, GOMEMLIMIT %q: %d, %v; want %d, %v", c.setting, c.limit, c.gogc, c.gml, got, set, c.want, c.set)
		}
	}
	if config.Default().GCPercent != 0 {
		t.Error("gc-percent is not automatic by default")
	}
}

func TestProcs(t *testing.T) {
	cases := []struct {
		setting, cpus int
		env           string
		want          int
		set           bool
	}{
		{cpus: 2, want: 3, set: true}, // the default: one more
		{cpus: 1, want: 2, set: true},
		{setting: 2, cpus: 8, want: 2, set: true}, // given
		{setting: 2, cpus: 8, env: "4"},           // the runtime already applied GOMAXPROCS
		{cpus: 8, env: "8"},
	}
	for _, c := range cases {
		getenv := func(k string) string {
			if k == "GOMAXPROCS" {
				return c.env
			}
			return ""
		}
		got, set := procs(config.Config{GoMaxProcs: c.setting}, getenv, c.cpus)
		if got != c.want || set != c.set {
			t.Errorf("gomaxprocs %d, %d CPUs, GOMAXPROCS %q: %d, %v; want %d, %v", c.setting, c.cpus, c.env, got, set, c.want, c.set)
		}
	}
	if config.Default().GoMaxProcs != 0 {
		t.Error("gomaxprocs is not automatic by default")
	}
}

func TestCacheSize(t *testing.T) {
	if got := cacheSize(0); got >= 0 {
		t.Errorf("manifest-cache 0 gives the registry %d, not a negative size (no cache)", got)
	}
	if got := cacheSize(8 << 20); got != 8<<20 {
		t.Errorf("manifest-cache 8MiB gives the registry %d", got)
	}
}
