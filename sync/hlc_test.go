package sync

import (
	"errors"
	"sort"
	"testing"
	"time"
)

type fakeTime struct{ t time.Time }

func (f *fakeTime) Now() time.Time { return f.t }

func TestCompareTable(t *testing.T) {
	a := Timestamp{Wall: 10, Logical: 1, Device: "a"}
	for _, c := range []struct {
		name string
		b    Timestamp
		want int
	}{
		{"equal", a, 0},
		{"later wall", Timestamp{Wall: 11, Device: "a"}, -1},
		{"earlier wall", Timestamp{Wall: 9, Logical: 9, Device: "z"}, 1},
		{"later counter", Timestamp{Wall: 10, Logical: 2, Device: "a"}, -1},
		{"tie broken by device", Timestamp{Wall: 10, Logical: 1, Device: "b"}, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := a.Compare(c.b); got != c.want {
				t.Fatalf("Compare = %d, want %d", got, c.want)
			}
			if got := c.b.Compare(a); got != -c.want {
				t.Fatalf("reverse Compare = %d, want %d", got, -c.want)
			}
		})
	}
}

func TestStringOrderMatchesCompare(t *testing.T) {
	ts := []Timestamp{
		{Wall: 1700000000000, Logical: 0, Device: "b"},
		{Wall: 1700000000000, Logical: 0, Device: "a"},
		{Wall: 1700000000000, Logical: 17, Device: "a"},
		{Wall: 1699999999999, Logical: 65535, Device: "z"},
		{Wall: 1, Logical: 0, Device: "a"},
	}
	strs := make([]string, len(ts))
	for i, x := range ts {
		strs[i] = x.String()
		back, err := ParseTimestamp(strs[i])
		if err != nil || back != x {
			t.Fatalf("round trip %v: %v %v", x, back, err)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Compare(ts[j]) < 0 })
	sort.Strings(strs)
	for i := range ts {
		if ts[i].String() != strs[i] {
			t.Fatalf("order differs at %d: %s vs %s", i, ts[i], strs[i])
		}
	}
	for _, bad := range []string{"", "12-34-x", "0000000000zz-0000-a", "000000000001-0000-"} {
		if _, err := ParseTimestamp(bad); !errors.Is(err, ErrBadTimestamp) {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestClockIsMonotonicWhenWallTimeGoesBack(t *testing.T) {
	ft := &fakeTime{time.UnixMilli(1_000_000)}
	c := NewClock("dev1", ft.Now, Timestamp{})
	prev := c.Now()
	for i := 0; i < 100; i++ {
		if i == 50 {
			ft.t = ft.t.Add(-time.Hour) // the user sets the clock back
		}
		next := c.Now()
		if next.Compare(prev) <= 0 {
			t.Fatalf("clock went back: %v then %v", prev, next)
		}
		prev = next
	}
	// A restart continues from the last timestamp it persisted.
	c2 := NewClock("dev1", ft.Now, prev)
	if got := c2.Now(); got.Compare(prev) <= 0 {
		t.Fatalf("restarted clock %v not after %v", got, prev)
	}
}

func TestCounterOverflowSpillsIntoNextMillisecond(t *testing.T) {
	ft := &fakeTime{time.UnixMilli(5000)}
	c := NewClock("d", ft.Now, Timestamp{Wall: 5000, Logical: 0xfffe})
	a := c.Now()
	b := c.Now()
	if a.Wall != 5000 || a.Logical != 0xffff || b.Wall != 5001 || b.Logical != 0 {
		t.Fatalf("got %v then %v", a, b)
	}
}

func TestObserve(t *testing.T) {
	ft := &fakeTime{time.UnixMilli(1_000_000)}
	c := NewClock("local", ft.Now, Timestamp{})
	c.Now()
	remote := Timestamp{Wall: 1_000_000 + 60_000, Logical: 3, Device: "peer"} // a minute ahead: fine
	got, err := c.Observe(remote)
	if err != nil || got.Compare(remote) <= 0 {
		t.Fatalf("observe: %v %v", got, err)
	}
	if next := c.Now(); next.Compare(remote) <= 0 {
		t.Fatal("local event not after the observed one")
	}
	before := c.Now()
	far := Timestamp{Wall: 1_000_000 + uint64((6 * time.Minute).Milliseconds()), Device: "laptop-7"}
	_, err = c.Observe(far)
	var ahead *ClockAheadError
	if !errors.As(err, &ahead) || ahead.Device != "laptop-7" || ahead.Ahead < 5*time.Minute {
		t.Fatalf("far-ahead batch: %v", err)
	}
	after := c.Now()
	if after.Wall != before.Wall {
		t.Fatalf("a refused timestamp moved the clock: %v -> %v", before, after)
	}
}
