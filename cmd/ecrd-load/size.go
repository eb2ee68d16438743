package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sizes are written the way people say them: "1MB", "100MB", "2GB".
// Decimal units (kB, MB, GB) are powers of 10 and binary units (KiB,
// MiB, GiB) are powers of 2, so both "1MB" and "1MiB" mean exactly what
// they say. Throughput is always reported in MB/s with MB = 10^6 bytes.
var sizeUnits = []struct {
	suffix string // upper case, compared case-insensitively
	bytes  int64
}{
	// Longer suffixes first so "MIB" is not read as "B" after "MI".
	{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
	{"B", 1},
}

// parseSize reads a byte count such as "4096", "1MB", "1.5GiB".
func parseSize(s string) (int64, error) {
	upper := strings.ToUpper(strings.TrimSpace(s))
	number, unit := upper, int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(upper, u.suffix) {
			number, unit = strings.TrimSpace(strings.TrimSuffix(upper, u.suffix)), u.bytes
			break
		}
	}
	if n, err := strconv.ParseInt(number, 10, 64); err == nil {
		if n < 0 || n > (1<<62)/unit {
			return 0, fmt.Errorf("size %q out of range", s)
		}
		return n * unit, nil
	}
	f, err := strconv.ParseFloat(number, 64)
	if err != nil || f < 0 || f*float64(unit) > 1<<62 {
		return 0, fmt.Errorf("cannot read size %q (want e.g. 4096, 1MB, 1MiB, 2GB)", s)
	}
	return int64(f * float64(unit)), nil
}

// formatSize writes n in the unit that divides it exactly, falling back to
// MB with decimals, so labels read "1MB", "1MiB" or "2GB".
func formatSize(n int64) string {
	if n <= 0 {
		return fmt.Sprintf("%dB", n)
	}
	for _, u := range []struct {
		name  string
		bytes int64
	}{{"TB", 1e12}, {"TiB", 1 << 40}, {"GB", 1e9}, {"GiB", 1 << 30}, {"MB", 1e6}, {"MiB", 1 << 20}, {"kB", 1e3}, {"KiB", 1 << 10}} {
		if n%u.bytes == 0 {
			return fmt.Sprintf("%d%s", n/u.bytes, u.name)
		}
	}
	if n < 1e3 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.3fMB", float64(n)/1e6)
}

// byteSize is a flag.Value for sizes.
type byteSize int64

func (b *byteSize) String() string { return formatSize(int64(*b)) }

func (b *byteSize) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("size must be positive")
	}
	*b = byteSize(n)
	return nil
}
