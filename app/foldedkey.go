package app

import "hash/maphash"

// foldedSeed keys foldedKey for this process.
var foldedSeed = maphash.MakeSeed()

// foldedKey hashes strings (already folded as the caller compares them)
// into one 64-bit key (seeded afresh by each process): what the import's
// and the bulk writer's duplicate checks keep instead of the names
// themselves. Two different people of one sheet of 500,000 rows sharing
// a key is a chance of about one in 10^8; the second would be refused,
// listed with its row and the row it was taken for, and can be entered
// by hand.
func foldedKey(parts ...string) uint64 {
	var h maphash.Hash
	h.SetSeed(foldedSeed)
	for _, p := range parts {
		h.WriteString(p)
		h.WriteByte(0)
	}
	return h.Sum64()
}
