package app

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"image"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters (RFC 6238): 30-second steps, SHA-1, 6 digits, a 160-bit
// secret, and one step of skew either way for phone clocks.
const (
	totpPeriod     = 30
	totpDigits     = otp.DigitsSix
	totpSecretSize = 20
	totpSkew       = 1
	totpIssuer     = "ClinicVault"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Enrollment is a TOTP secret being set up in an authenticator app. Nothing
// is saved until Confirm accepts a code from the app (the CLI's init and
// user add are the exception: they print the URI and save at once).
type Enrollment struct {
	key       *otp.Key
	secret    []byte
	confirmed int64 // the RFC 6238 step of the confirming code, 0 if none
}

// NewEnrollment makes a fresh 160-bit secret labelled with the practice and
// user, as authenticator apps show it.
func NewEnrollment(practice, user string) (*Enrollment, error) {
	secret := make([]byte, totpSecretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      totpIssuer + " " + practice,
		AccountName: user,
		Period:      totpPeriod,
		Secret:      secret,
		Digits:      totpDigits,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	return &Enrollment{key: key, secret: secret}, nil
}

// URI returns the otpauth:// URI that authenticator apps import.
func (e *Enrollment) URI() string { return e.key.URL() }

// Secret returns the base32 secret, for typing into an app by hand.
func (e *Enrollment) Secret() string { return e.key.Secret() }

// QR returns the URI as a QR code image of size×size pixels.
func (e *Enrollment) QR(size int) (image.Image, error) { return e.key.Image(size, size) }

// Confirm accepts a code from the app, proving it holds the secret.
func (e *Enrollment) Confirm(code string, now time.Time) bool {
	step, ok := checkTOTP(e.secret, code, now, 0)
	if ok {
		e.confirmed = step
	}
	return ok
}

// Confirmed reports whether Confirm has accepted a code.
func (e *Enrollment) Confirmed() bool { return e.confirmed != 0 }

// totpCode returns the code for a step: RFC 6238 with SHA-1.
func totpCode(secret []byte, step int64, digits otp.Digits) string {
	code, err := totp.GenerateCodeCustom(b32.EncodeToString(secret), time.Unix(step*totpPeriod, 0),
		totp.ValidateOpts{Period: totpPeriod, Digits: digits, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		// Only a malformed secret fails, and ours are made here.
		panic(err)
	}
	return code
}

// checkTOTP accepts a code for the current step or one step either side,
// but only for a step later than lastStep (RFC 6238 section 5.2: a code is
// never accepted twice). It returns the matching step. Every candidate is
// compared, in constant time, so timing shows nothing about which matched.
func checkTOTP(secret []byte, code string, now time.Time, lastStep int64) (int64, bool) {
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
	if len(code) != totpDigits.Length() {
		return 0, false
	}
	current := now.Unix() / totpPeriod
	var matched int64
	for step := current - totpSkew; step <= current+totpSkew; step++ {
		want := totpCode(secret, step, totpDigits)
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > lastStep && matched == 0 {
			matched = step
		}
	}
	return matched, matched != 0
}

// codeUsed reports whether code is right for a step of the window around
// now that was used already (at or before lastStep).
func codeUsed(secret []byte, code string, now time.Time, lastStep int64) bool {
	_, ok := checkTOTP(secret, code, now, 0)
	if !ok {
		return false
	}
	_, fresh := checkTOTP(secret, code, now, lastStep)
	return !fresh
}
