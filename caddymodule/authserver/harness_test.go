package authserver

import "github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

// The shared test harness, under the names the tests of this package use.
const (
	testAppKey       = harness.AppKey
	testSinchSecret  = harness.SinchSecret
	testOtherSecret  = harness.OtherSecret
	testHMSAppID     = harness.HMSAppID
	testHMSAppSecret = harness.HMSAppSecret
	testTokenPath    = harness.TokenPath
	testASPath       = harness.ASPath
	testClientID     = harness.ClientID
	testClientSecret = harness.ClientSecret
)

var (
	testAdminPort     = harness.AdminPort
	testHTTPPort      = harness.HTTPPort
	testBase          = harness.Base
	testTokenURL      = harness.TokenURL
	globalOptions     = harness.GlobalOptions
	envPort           = harness.EnvPort
	startCaddy        = harness.StartCaddy
	hmsSite           = harness.HMSSite
	newHuawei         = harness.NewHuawei
	mint              = harness.Mint
	assertionForm     = harness.AssertionForm
	postForm          = harness.PostForm
	do                = harness.Do
	useTestClock      = harness.UseTestClock
	testAdminURL      = harness.AdminURL
	metrics           = harness.Metrics
	sample            = harness.Sample
	delta             = harness.Delta
	testASURL         = harness.ASURL
	newASKeys         = harness.NewASKeys
	asRoute           = harness.ASRoute
	clientCredentials = harness.ClientCredentials
	entryText         = harness.EntryText
	dumpLogs          = harness.DumpLogs
	loadError         = harness.LoadError
)

type (
	answer    = harness.Answer
	mintOpt   = harness.MintOpt
	fakeClock = harness.Clock
	asKeys    = harness.ASKeys
)
