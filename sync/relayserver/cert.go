package relayserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// certValidity is how long the relay's certificate lasts. Computers pin
// its fingerprint rather than trust a name or an authority, so a new one
// would mean pairing them with the relay again: it lasts long.
const certValidity = 10 * 365 * 24 * time.Hour

// Fingerprint is how computers pin a certificate: "sha256:" and the
// lowercase hex SHA-256 of its DER bytes.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// loadOrMakeCert reads the relay's certificate and key from dir
// (cert.pem, key.pem), making them on first start, so that its
// fingerprint stays the same across restarts.
func loadOrMakeCert(dir string) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		return cert, nil
	}
	if _, statErr := os.Stat(certPath); !errors.Is(statErr, os.ErrNotExist) {
		// A certificate computers may have pinned is never replaced
		// silently: someone must look. (A key without a certificate is
		// what a first start cut short leaves; nothing pinned it.)
		return tls.Certificate{}, fmt.Errorf("relayserver: the relay's certificate in %s cannot be read: %w", dir, err)
	}
	certPEM, keyPEM, err := makeCert()
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("relayserver: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("relayserver: %w", err)
	}
	// The key first: a certificate without its key would make the next
	// start refuse.
	if err := store.WriteFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("relayserver: %w", err)
	}
	if err := store.WriteFileAtomic(certPath, certPEM, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("relayserver: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// makeCert makes a self-signed ECDSA P-256 certificate for the machine's
// names and addresses. Computers pin it and skip name checks; the names
// are there for other tools that look at it.
func makeCert() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("relayserver: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("relayserver: %w", err)
	}
	dns := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		dns = append([]string{h}, dns...)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1)}
	for _, ip := range machineIPs() {
		if !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			ips = append(ips, ip)
		}
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ClinicVault relay", Organization: []string{"ClinicVault"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("relayserver: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("relayserver: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}
