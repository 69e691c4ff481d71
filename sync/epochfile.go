package sync

import (
	"fmt"

	"github.com/clinicvault/clinicvault/store"
)

// Epoch files: a key epoch's keys in the folder, at epochs/<n>/<name>,
// one file per person and computer (see doc.go, "Key epochs"). They are
// JSON; the box is sealed with SealTo to a person's identity key (then
// to a computer's device key), and the file is signed by the admin who
// made the epoch over EpochSigned's bytes.

// EpochFile is a new key epoch sealed to one person on one computer (or,
// in files of earlier versions, to one device), signed by the admin who
// made it.
type EpochFile struct {
	Epoch     uint32 `json:"epoch"`
	Device    string `json:"device,omitempty"`   // sealed to a device (earlier versions)
	User      string `json:"user,omitempty"`     // sealed to a person's identity key
	Made      int64  `json:"made,omitempty"`     // Unix ms, by the admin's clock
	Clinical  bool   `json:"clinical,omitempty"` // the box holds the clinical key
	Box       []byte `json:"box"`                // sealed to the person (UserEpochKeys) or the device (EpochKeys)
	Admin     string `json:"admin"`
	Signature []byte `json:"signature"`
}

// EpochKeys is what an epoch file sealed to a device holds (earlier
// versions), and what a pairing grant carries per epoch.
type EpochKeys struct {
	General         []byte `json:"general"`
	ClinicalWrapped []byte `json:"clinical_wrapped"`
	MadeBy          string `json:"made_by,omitempty"`
}

// UserEpochKeys is what an epoch file sealed to a person holds.
type UserEpochKeys struct {
	General  []byte `json:"general"`
	Clinical []byte `json:"clinical,omitempty"`
}

// EpochSigned is the bytes the admin signs.
func EpochSigned(e EpochFile) []byte {
	b := fmt.Sprintf("%s|%d|%s|%x|%s", store.LabelEpochFile, e.Epoch, e.Device, e.Box, e.Admin)
	if e.User != "" {
		b += fmt.Sprintf("|user=%s|made=%d|clinical=%t", e.User, e.Made, e.Clinical)
	}
	return []byte(b)
}

// UserEpochName is the file name, within epochs/<n>/, of an epoch's keys
// for user on device.
func UserEpochName(user, device string) string { return "u-" + user + "@" + device }
