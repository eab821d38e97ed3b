# kafkakit serve in a container: a static binary on a distroless base, run as
# a non-root user. Build: docker build -t kafkakit .
# Run:   docker run --rm -p 8080:8080 -e KAFKA_BROKERS=kafka:9092 kafkakit

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/kafkakit ./cmd/kafkakit

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kafkakit /kafkakit
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/kafkakit"]
CMD ["serve"]
