// Readiness probe for the dev broker, run by kafka.sh with Java's single-file
// source launcher against the cached Kafka jars:
//   java -cp '<cache>/libs/*' deploy/kafka/KafkaReady.java 127.0.0.1:9092 <timeout_ms>
// It sends real Kafka requests (Metadata via describeCluster, then listTopics),
// retrying until the broker answers or the timeout passes. Exit 0 = ready.
import java.util.Collection;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.common.Node;

public class KafkaReady {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: KafkaReady <bootstrap> <timeout_ms>");
            System.exit(2);
        }
        String bootstrap = args[0];
        long deadline = System.currentTimeMillis() + Long.parseLong(args[1]);
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "redshield-kafka-ready");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "200");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
        String lastError = "no attempt";
        try (Admin admin = Admin.create(props)) {
            while (true) {
                try {
                    DescribeClusterResult cluster = admin.describeCluster();
                    String clusterId = cluster.clusterId().get(5, TimeUnit.SECONDS);
                    Collection<Node> nodes = cluster.nodes().get(5, TimeUnit.SECONDS);
                    if (!nodes.isEmpty()) {
                        int topics = admin.listTopics().names().get(5, TimeUnit.SECONDS).size();
                        System.out.println("kafka ready: cluster_id=" + clusterId
                                + " brokers=" + nodes.size() + " topics=" + topics);
                        return;
                    }
                    lastError = "cluster has no live broker yet";
                } catch (Exception e) {
                    Throwable cause = e.getCause() != null ? e.getCause() : e;
                    lastError = cause.getClass().getSimpleName() + ": " + cause.getMessage();
                }
                if (System.currentTimeMillis() >= deadline) {
                    System.err.println("kafka not ready at " + bootstrap + ": " + lastError);
                    System.exit(1);
                }
                Thread.sleep(300);
            }
        }
    }
}
