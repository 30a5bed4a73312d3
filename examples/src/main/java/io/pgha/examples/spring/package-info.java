/**
 * A small Spring Boot web service on a pgha cluster, configured only by properties ({@code pgha.datasource.*}, from
 * ha-jdbc's auto-configuration): {@code POST /rows} writes a row in a read-write transaction (on the leader),
 * {@code GET /rows/{id}} and {@code GET /rows/count} read in {@code @Transactional(readOnly = true)} (on a replica
 * within the lag bound), and each answer names the server that served it. Its end-to-end test is
 * {@code SpringRowsServiceE2eTest}; the README's Spring Boot section shows how to run it against a cluster.
 */
package io.pgha.examples.spring;
