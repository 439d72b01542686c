// Package auth implements the authentication of MS-MMSP (sections
// 2.2.4.14, 2.2.4.21, 2.2.4.24 and 4.6) for both sides: Basic (RFC 2617
// credentials) and NTLM.
//
// Server side: Server.NewExchange gives a ServerExchange whose Step takes
// the client's token (OpenFile's tokenData, then each SecurityResponse's
// pToken) and returns either ok or the pToken of the next
// SecurityChallenge:
//
//	srv := &auth.Server{Scheme: auth.SchemeNTLM, Lookup: auth.SingleUser("u", "p")}
//	x := srv.NewExchange()                // per OpenFile
//	ok, next, err := x.Step(openFile.TokenData)
//	// !ok: send LinkMacToViewerSecurityChallenge{Token: next}; err says why (log it)
//	// ok:  send ReportOpenFile; x.User() is the user
//
// NTLM verification is NTLMv2 only, written from MS-NLMP (NTLMServer:
// CHALLENGE_MESSAGE with MsvAvTimestamp, AUTHENTICATE_MESSAGE checked by
// NTOWFv2 and NTProofStr, LMv2 when present, single-use challenges), with
// MD4 from RFC 1320 since the standard library has none.
// go-ntlmssp is client-only, hence this code.
//
// Client side: Client.NewExchange(authenPackage) gives a ClientExchange
// whose Step turns each SecurityChallenge pToken into the SecurityResponse
// pToken: Basic credentials, or NTLM NEGOTIATE then AUTHENTICATE built by
// github.com/Azure/go-ntlmssp. NTLM tokens are wrapped in NTLM_AUTH
// (2.2.4.14.1) the way the server wraps them.
//
// Errors wrap ErrAuthFailed (wrong or unknown credentials), ErrNTLMMessage
// (malformed NTLM input) or ErrTooManyRounds.
package auth
