package store

import (
	"errors"
	"testing"
	"time"
)

func TestKDFBoundsAreTypedAndDeriveNothing(t *testing.T) {
	ok := MinKDF.WithNewSalt()
	if err := ok.Check(); err != nil {
		t.Fatalf("MinKDF refused: %v", err)
	}
	// What calibration can produce at most is accepted.
	top := KDFParams{Time: 32, MemoryKiB: maxKDFMemoryKiB, Threads: 8, Salt: ok.Salt}
	if err := top.Check(); err != nil {
		t.Fatalf("calibration's largest refused: %v", err)
	}
	for _, c := range []struct {
		p     KDFParams
		param string
		want  error
	}{
		{KDFParams{Time: 3, MemoryKiB: 64 * 1024 * 1024, Threads: 4, Salt: ok.Salt}, "memory", ErrCostlyKDF},
		{KDFParams{Time: 100000, MemoryKiB: 64 * 1024, Threads: 4, Salt: ok.Salt}, "time", ErrCostlyKDF},
		{KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 255, Salt: ok.Salt}, "threads", ErrCostlyKDF},
		{KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 4, Salt: make([]byte, 4096)}, "salt", ErrCostlyKDF},
		{KDFParams{Time: 64, MemoryKiB: 1024 * 1024, Threads: 4, Salt: ok.Salt}, "work (passes × memory)", ErrCostlyKDF},
		{KDFParams{Time: 1, MemoryKiB: 64 * 1024, Threads: 4, Salt: ok.Salt}, "time", ErrWeakKDF},
	} {
		start := time.Now()
		_, err := DeriveKEK("x", c.p)
		var le *KDFLimitError
		if !errors.As(err, &le) || le.Param != c.param || !errors.Is(err, c.want) {
			t.Errorf("%+v: got %v, want a %s limit error wrapping %v", c.p, err, c.param, c.want)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("%+v: refusal took %v", c.p, d)
		}
	}
}
