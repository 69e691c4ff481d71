package sync

// VersionVector is, per device, the highest batch sequence number taken
// from that device's log.
type VersionVector map[string]uint64

// Ordering compares two version vectors.
type Ordering int

// The four outcomes of comparing version vectors.
const (
	Equal Ordering = iota
	Greater
	Lesser
	Concurrent
)

// Compare tells whether v has seen more than, less than, the same as, or
// something different from o.
func (v VersionVector) Compare(o VersionVector) Ordering {
	greater, lesser := false, false
	for d, n := range v {
		if n > o[d] {
			greater = true
		} else if n < o[d] {
			lesser = true
		}
	}
	for d, n := range o {
		if _, ok := v[d]; !ok && n > 0 {
			lesser = true
		}
	}
	switch {
	case greater && lesser:
		return Concurrent
	case greater:
		return Greater
	case lesser:
		return Lesser
	}
	return Equal
}
