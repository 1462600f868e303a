// Package bookings is the API the example servers protect, once on net/http
// and once on Echo, with the same routes:
//
//	GET    /livez                no authentication: liveness probe
//	GET    /readyz               no authentication: readiness probe
//	GET    /healthz              no authentication: detailed key status, not a probe
//	GET    /v1/whoami            any authenticated caller
//	GET    /v1/bookings          bookings:read
//	POST   /v1/bookings          bookings:create
//	DELETE /v1/bookings/{id}     bookings:delete
//	GET    /v1/reports           reports:read and bookings:read
//	GET    /v1/search            bookings:read or reports:read
package bookings
