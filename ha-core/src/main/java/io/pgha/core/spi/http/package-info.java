/**
 * <b>Adapter support, not the user API.</b> A small blocking HTTP/1.1 client ({@code HttpTransport}) shared by the
 * store adapters that speak HTTP (etcd) and the HA loop's calls to other members' REST APIs: public only because
 * adapters live in other modules; it may change with ha-core. JDK only (decision 0311).
 */
package io.pgha.core.spi.http;
