package mmsserver

// ntlmStep advances the NTLM exchange (4.6.2) with the client's token.
// It returns ok when the AUTHENTICATE_MESSAGE verified, else the pToken of
// the next SecurityChallenge.
func (s *session) ntlmStep(token []byte) (ok bool, next []byte, err error) {
	return false, nil, errNTLMUnavailable
}
