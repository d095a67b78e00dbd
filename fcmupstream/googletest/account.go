package googletest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
)

// ServiceAccount is a generated Google service account: its RSA key and
// the JSON key file the Firebase console would download for it.
type ServiceAccount struct {
	Email     string
	ProjectID string
	KeyID     string
	Key       *rsa.PrivateKey
}

// NewServiceAccount generates a service account of project projectID with
// a fresh 2048-bit RSA key.
func NewServiceAccount(projectID string) (*ServiceAccount, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("googletest: generating RSA key: %w", err)
	}
	var id [20]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("googletest: key id: %w", err)
	}
	return &ServiceAccount{
		Email:     "firebase-adminsdk-test@" + projectID + ".iam.gserviceaccount.com",
		ProjectID: projectID,
		KeyID:     hex.EncodeToString(id[:]),
		Key:       key,
	}, nil
}

// KeyJSON is the account's key file, with token_uri set to tokenURI (pass
// the real "https://oauth2.googleapis.com/token" to get the file as Google
// issues it).
func (sa *ServiceAccount) KeyJSON(tokenURI string) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(sa.Key)
	if err != nil {
		panic(err) // an RSA key always marshals
	}
	b, _ := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  sa.ProjectID,
		"private_key_id":              sa.KeyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                sa.Email,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}, "", "  ")
	return b
}
